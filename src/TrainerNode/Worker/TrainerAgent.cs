using Akka.Actor;
using Akka.Event;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Training;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.TrainerNode.Worker;

/// <summary>Settings of a trainer node's agent.</summary>
public sealed record TrainerAgentSettings(string AgentId, int Slots, ProxyEnvironment Environment, string WeightsDirectory)
{
    /// <summary>Extra wall time of a synthetic-quality job (benchmarks and tests model a fixed-cost work item with it).</summary>
    public TimeSpan SyntheticDelay { get; init; } = TimeSpan.Zero;

    public TrainingConfig Defaults { get; init; } = new();

    public TimeSpan RegistrationInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>libtorch threads of the node (0: the cores divided among the slots). Proxy scores are reproducible for a given count.</summary>
    public int TorchThreads { get; init; }

    /// <summary>Replaces training (benchmarks of the cluster's own overhead answer work at zero cost).</summary>
    public Func<WorkAssignment, ProxyOutcome>? Work { get; init; }
}

/// <summary>
/// The one trainer actor of a trainer node. It registers with the experiment registry (and again
/// periodically, so a moved or restarted registry finds it) and receives proxy-training work from
/// experiments, which count its free slots, so work is pulled by capacity. The rules:
/// <list type="bullet">
/// <item>up to <c>Slots</c> trainings run at once, each on a detached task piped back, so the mailbox always answers;
/// an assignment beyond that is refused (<see cref="WorkRefused"/>) and the experiment puts it back;</item>
/// <item>every assignment gets exactly one <see cref="WorkResult"/> — scored, or failed with a reason (an
/// architecture that does not build, a diverging run, the deadline passing: the training is cancelled then);</item>
/// <item>a result is kept until the experiment acknowledges it (<see cref="WorkAck"/>): an assignment of the
/// same trial again — its answer was lost, or a new incarnation of the experiment re-issues it — is answered
/// from the kept result, and one of a trial still training is answered when that training ends;</item>
/// <item>when the experiment that gave the work dies (stopped, or its node gone), its trainings are
/// cancelled and its kept results dropped: the slots are free at once, and the experiment's ledger
/// re-issues whatever it still needs when it recovers.</item>
/// </list>
/// </summary>
public sealed class TrainerAgent : ReceiveActor, IWithTimers
{
    /// <summary>One piece of work: a trial's training (of its several seeds, <c>Unit</c> says which).</summary>
    private readonly record struct WorkKey(string Experiment, int Trial, int Unit)
    {
        public override string ToString() => Unit == 0 ? $"{Experiment}#{Trial}" : $"{Experiment}#{Trial}/seed{Unit}";
    }

    private sealed record Finished(WorkKey Key, ProxyOutcome Outcome);
    private sealed record Expired(WorkKey Key, int Attempt);
    private sealed record Register;
    private sealed record Job(int Attempt, IActorRef ReplyTo, CancellationTokenSource Cancel);
    private sealed record Kept(int Attempt, IActorRef ReplyTo, ProxyOutcome Outcome);

    private readonly TrainerAgentSettings _settings;
    private readonly IActorRef _registry;
    private readonly Dictionary<WorkKey, Job> _running = [];
    private readonly Dictionary<WorkKey, Kept> _kept = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _completed;
    private int _failed;
    private static int _threadsSet;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Whether <paramref name="path"/> lies inside the agent's weights directory: the only files a release may delete.</summary>
    internal static bool Owns(string weightsDirectory, string path)
    {
        var root = Path.GetFullPath(weightsDirectory).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(path);
        return full.StartsWith(root, StringComparison.Ordinal); // GetFullPath has resolved any ".."
    }

    public TrainerAgent(TrainerAgentSettings settings, IActorRef registry)
    {
        if (settings.Slots < 1) throw new ArgumentOutOfRangeException(nameof(settings), "a trainer needs at least one slot");
        _settings = settings;
        _registry = registry;
        Receive<Register>(_ => _registry.Tell(new RegisterTrainer(_settings.AgentId, _settings.Slots)));
        Receive<WorkAssignment>(Assign);
        Receive<Finished>(OnFinished);
        Receive<Expired>(x =>
        {
            if (_running.TryGetValue(x.Key, out var job) && job.Attempt == x.Attempt) job.Cancel.Cancel();
        });
        Receive<WorkAck>(a => _kept.Remove(new WorkKey(a.Experiment, a.TrialId, a.Unit)));
        Receive<ReleaseWeights>(r =>
        {
            foreach (var path in r.Paths.Where(p => Owns(_settings.WeightsDirectory, p)))
            {
                try
                {
                    File.Delete(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Kept, and said so; the disk bound is a courtesy, not a correctness rule.
                    Context.GetLogger().Warning("could not delete released weights {0}: {1}", path, e.Message);
                }
            }
        });
        Receive<Terminated>(t => ExperimentGone(t.ActorRef));
        Receive<GetTrainerStatus>(_ => Sender.Tell(new TrainerStatus(_settings.Slots,
            _running.Keys.Select(k => k.ToString()).Order(StringComparer.Ordinal).ToList(), _completed, _failed, _kept.Count)));
    }

    public static Props Props(TrainerAgentSettings settings, IActorRef registry) =>
        Akka.Actor.Props.Create(() => new TrainerAgent(settings, registry));

    protected override void PreStart()
    {
        Self.Tell(new Register());
        Timers.StartPeriodicTimer("register", new Register(), _settings.RegistrationInterval);
    }

    protected override void PostStop()
    {
        foreach (var job in _running.Values) job.Cancel.Cancel();
    }

    private void Assign(WorkAssignment w)
    {
        var key = new WorkKey(w.Experiment, w.TrialId, w.Unit);
        if (_kept.TryGetValue(key, out var kept))
        {
            _kept[key] = kept with { Attempt = w.Attempt, ReplyTo = Sender };
            Reply(Sender, key, w.Attempt, kept.Outcome); // the earlier answer was lost
            return;
        }
        if (_running.TryGetValue(key, out var running))
        {
            Context.Watch(Sender);
            _running[key] = running with { Attempt = w.Attempt, ReplyTo = Sender }; // a re-issue of work in progress: answered when done
            return;
        }
        if (_running.Count >= _settings.Slots)
        {
            Sender.Tell(new WorkRefused(w.Experiment, w.TrialId, w.Attempt, w.Unit));
            return;
        }
        Context.Watch(Sender);
        var cancel = new CancellationTokenSource();
        _running[key] = new Job(w.Attempt, Sender, cancel);
        var timeout = TimeSpan.FromMilliseconds(Math.Max(0, w.DeadlineUnixMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        Timers.StartSingleTimer($"deadline-{key}", new Expired(key, w.Attempt), timeout);
        var settings = _settings;
        Task.Run(() => Train(w, settings, cancel.Token), cancel.Token).PipeTo(Self,
            success: o => new Finished(key, o),
            failure: e => new Finished(key, Failure(Reason(e))));
    }

    private void OnFinished(Finished f)
    {
        var key = f.Key;
        if (!_running.Remove(key, out var job)) return; // its experiment died meanwhile
        job.Cancel.Dispose();
        Timers.Cancel($"deadline-{key}");
        if (f.Outcome.Succeeded) _completed++;
        else
        {
            _failed++;
            _log.Warning("{0} attempt {1} failed: {2}", key, job.Attempt, f.Outcome.FailureReason);
        }
        _kept[key] = new Kept(job.Attempt, job.ReplyTo, f.Outcome);
        Reply(job.ReplyTo, key, job.Attempt, f.Outcome);
    }

    private void Reply(IActorRef to, WorkKey key, int attempt, ProxyOutcome outcome) =>
        to.Tell(new WorkResult(key.Experiment, key.Trial, attempt, _settings.AgentId, outcome, key.Unit));

    private void ExperimentGone(IActorRef experiment)
    {
        var cancelled = 0;
        foreach (var (key, job) in _running.Where(j => j.Value.ReplyTo.Equals(experiment)).ToList())
        {
            job.Cancel.Cancel();
            _running.Remove(key);
            Timers.Cancel($"deadline-{key}");
            cancelled++;
        }
        foreach (var key in _kept.Where(k => k.Value.ReplyTo.Equals(experiment)).Select(k => k.Key).ToList()) _kept.Remove(key);
        if (cancelled > 0) _log.Info("experiment {0} is gone: cancelled its {1} trainings", experiment.Path.Name, cancelled);
    }

    private static async Task<ProxyOutcome> Train(WorkAssignment w, TrainerAgentSettings settings, CancellationToken cancel)
    {
        if (settings.Work is { } work) return work(w);
        Network network;
        try
        {
            network = ArchJson.Read(w.ArchitectureJson, $"trial {w.TrialId}");
        }
        catch (NasInputException e)
        {
            return Failure($"invalid architecture: {e.Message}");
        }
        if (w.Steps < 1) return Failure($"the step budget must be positive (got {w.Steps})");
        if (w.QualityMode == QualityMode.Synthetic)
        {
            if (settings.SyntheticDelay > TimeSpan.Zero) await Task.Delay(settings.SyntheticDelay, cancel);
            return new ProxyOutcome(true, null, SyntheticQuality.Of(network), 0, 0, 0, settings.SyntheticDelay.TotalSeconds, 0, network.Params, network.Hash, null, null);
        }
        if (Interlocked.Exchange(ref _threadsSet, 1) == 0) // libtorch's thread pool is per process: set once, before the first training
            TorchSharp.torch.set_num_threads(settings.TorchThreads > 0 ? settings.TorchThreads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, settings.Slots)));
        var weights = Path.Combine(settings.WeightsDirectory, w.Experiment, $"trial{w.TrialId}{(w.Unit > 0 ? $"-seed{w.Unit}" : "")}-{network.Hash[..16]}.bin");
        var r = ProxyTrainer.Run(network, settings.Defaults with { Steps = w.Steps, Seed = w.Seed }, settings.Environment, saveWeightsTo: weights, cancel: cancel,
            training: w.Training);
        return new ProxyOutcome(r.Succeeded, r.FailureReason, r.Score, r.Loss, r.ValidationLoss, r.StepsPerSecond, r.WallSeconds, r.Steps, r.Params,
            r.ArchitectureHash, r.WeightsPath, r.WeightsSha256);
    }

    private static string Reason(Exception e) => e switch
    {
        AggregateException { InnerException: { } inner } => Reason(inner),
        OperationCanceledException => "cancelled: the deadline passed",
        NasInputException input => input.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    private static ProxyOutcome Failure(string reason) => new(false, reason, 0, 0, 0, 0, 0, 0, 0, "", null, null);
}

/// <summary>Starting a node's trainer agent.</summary>
public static class TrainerAgents
{
    /// <summary>Starts the agent, registering through the experiment registry's proxy (one is made if not given).</summary>
    public static IActorRef Start(ActorSystem system, TrainerAgentSettings settings, IActorRef? registry = null) =>
        system.ActorOf(TrainerAgent.Props(settings, registry ?? NodeHosting.NodeHost.RegistryProxy(system)), "trainer-agent");
}
