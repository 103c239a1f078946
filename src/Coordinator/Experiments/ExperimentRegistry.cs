using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using NasCluster.NodeHosting;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.RegistryProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// The experiment registry: a cluster singleton (role coordinator) that owns one <see cref="ExperimentActor"/>
/// child per experiment, routes commands to it, and introduces trainer agents to every running experiment.
/// Experiments are in their own journals and start when asked (search, resume). In a cluster the registry
/// also records which experiments are running (<see cref="NasCluster.Shared.Protocol.RegistryProtocol"/>): when the coordinator that
/// hosts it dies, the singleton starts on the coordinator that took over, recovers that record and resumes
/// every experiment that was running — no command needed. A child that stops unexpectedly while running —
/// a failed journal write stops a persistent actor — is started again after a back-off and resumed: the
/// new incarnation recovers from the journal. A restart the registry makes itself that finds the
/// experiment's lock still held (the dead coordinator's database session not yet closed) is tried again.
/// </summary>
public sealed class ExperimentRegistry : ReceivePersistentActor, IWithTimers
{
    private sealed record Restart(string Name);

    /// <summary>Child → registry, just before its refusal: the refusal is the experiment lock being held elsewhere.</summary>
    internal sealed record LockBusy(string Name);

    private readonly IActorRef _evaluators;
    private readonly DatabaseTarget _db;
    private readonly Dictionary<string, IActorRef> _children = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResumeExperiment> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (IActorRef Agent, int Slots)> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<IActorRef>> _watchers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _remembered = new(StringComparer.Ordinal);
    private readonly HashSet<string> _restarting = new(StringComparer.Ordinal);
    private readonly HashSet<string> _lockBusy = new(StringComparer.Ordinal);
    private readonly HashSet<string> _waitingForLock = new(StringComparer.Ordinal);
    private readonly bool _remember;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public override string PersistenceId => NasCluster.Shared.Protocol.RegistryProtocol.PersistenceId;

    public ExperimentRegistry(IActorRef evaluators, DatabaseTarget db, bool rememberRunning)
    {
        _evaluators = evaluators;
        _db = db;
        _remember = rememberRunning;
        Recover<RegistryExperimentStarted>(e => _remembered.Add(e.Name));
        Recover<RegistryExperimentEnded>(e => _remembered.Remove(e.Name));
        Recover<RecoveryCompleted>(_ => ResumeRemembered());
        Command<StartExperiment>(s =>
        {
            var child = Child(s.Spec.Name);
            _running[s.Spec.Name] = new ResumeExperiment(s.Spec.Name);
            Remember(s.Spec.Name);
            child.Forward(s);
        });
        Command<ResumeExperiment>(r =>
        {
            if (r.ForkAs is null)
            {
                _running[r.Name] = r; // a fork runs under the new name (its StartExperiment comes back here)
                Remember(r.Name);
            }
            Child(r.Name).Forward(r);
        });
        Command<LockBusy>(b => _lockBusy.Add(b.Name));
        Command<ExperimentRefused>(r =>
        {
            var busy = _lockBusy.Remove(r.Name);
            if (busy && _restarting.Contains(r.Name))
            {
                // Ours to run, but the lock is not free yet: the child stops, and Terminated tries again in a second
                // (said once: a standalone `resume` of the same experiment elsewhere holds it until it ends).
                if (_waitingForLock.Add(r.Name))
                    _log.Warning("experiment {0}: its lock is held elsewhere (a coordinator that just died, or a run in another process); trying again every second", r.Name);
                return;
            }
            _waitingForLock.Remove(r.Name);
            _running.Remove(r.Name); // a refused start or resume must not be restarted
            _restarting.Remove(r.Name);
            Forget(r.Name, "refused: " + r.Reason);
        });
        Command<ExperimentProgress>(_ => { });
        Command<ExperimentAccepted>(a =>
        {
            _restarting.Remove(a.Name);
            _waitingForLock.Remove(a.Name);
        });
        Command<WatchExperiment>(w =>
        {
            // Remembered here too, so a restarted incarnation keeps the watchers of the one before.
            if (!Sender.IsNobody() && !Sender.Equals(Self))
            {
                if (!_watchers.TryGetValue(w.Name, out var set)) _watchers[w.Name] = set = [];
                if (set.Add(Sender)) Context.Watch(Sender);
            }
            Child(w.Name).Forward(w);
        });
        Command<GetExperimentState>(g => Child(g.Name).Forward(g));
        Command<StopExperiment>(s =>
        {
            _running.Remove(s.Name);
            _restarting.Remove(s.Name);
            Forget(s.Name, "stopped");
            if (_children.TryGetValue(s.Name, out var c)) c.Forward(s);
        });
        Command<RegisterTrainer>(r =>
        {
            if (!_agents.TryGetValue(r.AgentId, out var known) || !known.Agent.Equals(Sender)) Context.Watch(Sender);
            _agents[r.AgentId] = (Sender, r.Slots);
            foreach (var c in _children.Values) c.Tell(new TrainerAvailable(r.AgentId, r.Slots), Sender);
        });
        Command<Restart>(r =>
        {
            if (!_running.TryGetValue(r.Name, out var resume)) return;
            if (!_lockBusy.Contains(r.Name) && !_restarting.Contains(r.Name))
                _log.Warning("restarting experiment {0}: the new incarnation recovers from the journal", r.Name);
            _restarting.Add(r.Name);
            Child(r.Name).Tell(resume, Self);
        });
        Command<Terminated>(t =>
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
        Command<ExperimentHalted>(h =>
        {
            _running.Remove(h.Name); // not restarted: the fault needs the user (it stays remembered, for a takeover)
            _restarting.Remove(h.Name);
        });
        Command<ExperimentDone>(d =>
        {
            _running.Remove(d.Name);
            _restarting.Remove(d.Name);
            Forget(d.Name, "done");
        });
    }

    /// <summary><paramref name="rememberRunning"/>: keep the record of running experiments and resume them after a takeover (cluster coordinators; off for a standalone search).</summary>
    public static Props Props(IActorRef evaluators, DatabaseTarget db, bool rememberRunning = false) =>
        Akka.Actor.Props.Create(() => new ExperimentRegistry(evaluators, db, rememberRunning));

    /// <summary>After recovery on a coordinator that took over: every experiment still running is resumed (the experiments recover from their own journals).</summary>
    private void ResumeRemembered()
    {
        if (!_remember || _remembered.Count == 0) return;
        _log.Warning("the registry starts with {0} experiment(s) running: resuming {1}", _remembered.Count, string.Join(", ", _remembered.Order(StringComparer.Ordinal)));
        foreach (var name in _remembered.Order(StringComparer.Ordinal))
        {
            _running[name] = new ResumeExperiment(name);
            Self.Tell(new Restart(name));
        }
    }

    private void Remember(string name)
    {
        if (!_remember || !_remembered.Add(name)) return;
        PersistAsync(new RegistryExperimentStarted(name, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), _ => { });
    }

    private void Forget(string name, string why)
    {
        if (!_remember || !_remembered.Remove(name)) return;
        PersistAsync(new RegistryExperimentEnded(name, why, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()), _ => { });
    }

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
