using Akka.Actor;
using Akka.Event;
using NasCluster.NodeHosting;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// The experiment registry: a cluster singleton (role coordinator) that owns one <see cref="ExperimentActor"/>
/// child per experiment, routes commands to it, and introduces trainer agents to every running experiment.
/// It keeps no state of its own that matters: experiments are in the journal and start when asked (search,
/// resume). A child that stops unexpectedly while running — a failed journal write stops a persistent
/// actor — is started again after a back-off and resumed: the new incarnation recovers from the journal.
/// </summary>
public sealed class ExperimentRegistry : ReceiveActor, IWithTimers
{
    private sealed record Restart(string Name);

    private readonly IActorRef _evaluators;
    private readonly DatabaseTarget _db;
    private readonly Dictionary<string, IActorRef> _children = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResumeExperiment> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (IActorRef Agent, int Slots)> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<IActorRef>> _watchers = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public ExperimentRegistry(IActorRef evaluators, DatabaseTarget db)
    {
        _evaluators = evaluators;
        _db = db;
        Receive<StartExperiment>(s =>
        {
            var child = Child(s.Spec.Name);
            _running[s.Spec.Name] = new ResumeExperiment(s.Spec.Name);
            child.Forward(s);
        });
        Receive<ResumeExperiment>(r =>
        {
            if (r.ForkAs is null) _running[r.Name] = r; // a fork runs under the new name (its StartExperiment comes back here)
            Child(r.Name).Forward(r);
        });
        Receive<ExperimentRefused>(r => _running.Remove(r.Name)); // a refused start or resume must not be restarted
        Receive<ExperimentProgress>(_ => { });
        Receive<ExperimentAccepted>(_ => { });
        Receive<WatchExperiment>(w =>
        {
            // Remembered here too, so a restarted incarnation keeps the watchers of the one before.
            if (!Sender.IsNobody() && !Sender.Equals(Self))
            {
                if (!_watchers.TryGetValue(w.Name, out var set)) _watchers[w.Name] = set = [];
                if (set.Add(Sender)) Context.Watch(Sender);
            }
            Child(w.Name).Forward(w);
        });
        Receive<GetExperimentState>(g => Child(g.Name).Forward(g));
        Receive<StopExperiment>(s =>
        {
            _running.Remove(s.Name);
            if (_children.TryGetValue(s.Name, out var c)) c.Forward(s);
        });
        Receive<RegisterTrainer>(r =>
        {
            if (!_agents.TryGetValue(r.AgentId, out var known) || !known.Agent.Equals(Sender)) Context.Watch(Sender);
            _agents[r.AgentId] = (Sender, r.Slots);
            foreach (var c in _children.Values) c.Tell(new TrainerAvailable(r.AgentId, r.Slots), Sender);
        });
        Receive<Restart>(r =>
        {
            if (!_running.TryGetValue(r.Name, out var resume)) return;
            _log.Warning("restarting experiment {0}: the new incarnation recovers from the journal", r.Name);
            Child(r.Name).Tell(resume, ActorRefs.NoSender);
        });
        Receive<Terminated>(t =>
        {
            var name = _children.FirstOrDefault(c => c.Value.Equals(t.ActorRef)).Key;
            if (name is not null)
            {
                _children.Remove(name);
                if (_running.ContainsKey(name)) Timers.StartSingleTimer($"restart-{name}", new Restart(name), TimeSpan.FromSeconds(1));
                return;
            }
            foreach (var gone in _agents.Where(a => a.Value.Agent.Equals(t.ActorRef)).Select(a => a.Key).ToList()) _agents.Remove(gone);
            foreach (var set in _watchers.Values) set.Remove(t.ActorRef);
        });
        Receive<ExperimentDone>(d => _running.Remove(d.Name));
    }

    public static Props Props(IActorRef evaluators, DatabaseTarget db) => Akka.Actor.Props.Create(() => new ExperimentRegistry(evaluators, db));

    private IActorRef Child(string name)
    {
        if (_children.TryGetValue(name, out var existing)) return existing;
        var child = Context.ActorOf(ExperimentActor.Props(name, _evaluators, _db), Uri.EscapeDataString(name));
        Context.Watch(child);
        _children[name] = child;
        child.Tell(new WatchExperiment(name), Self); // to learn when it is done
        if (_watchers.TryGetValue(name, out var watchers))
            foreach (var w in watchers) child.Tell(new WatchExperiment(name), w);
        foreach (var (id, (agent, slots)) in _agents) child.Tell(new TrainerAvailable(id, slots), agent);
        return child;
    }
}
