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

    public TimeSpan RegistrationInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>libtorch threads of the node (0: the cores divided among the slots). Proxy scores are reproducible for a given count.</summary>
    public int TorchThreads { get; init; }

    /// <summary>Replaces training (benchmarks of the cluster's own overhead answer work at zero cost).</summary>
    public Func<WorkAssignment, ProxyOutcome>? Work { get; init; }
}

/// <summary>
/// A trainer node's agent: registers with the experiment registry (and again periodically, so a moved or
/// restarted registry finds it), receives proxy-training work from experiments up to its slot count —
/// the experiments account for its free slots, so work is pulled by capacity — and answers each
/// assignment with exactly one <see cref="WorkResult"/>. Real proxies train on a detached task piped back
/// to the actor; "synthetic" assignments (benchmarks) compute the synthetic quality. A result is kept
/// until acknowledged and is sent again if the same trial is assigned again.
/// </summary>
public sealed class TrainerAgent : ReceiveActor, IWithTimers
{
    private sealed record Finished(string Experiment, int TrialId, int Attempt, ProxyOutcome Outcome);
    private sealed record Expired(string Experiment, int TrialId, int Attempt);
    private sealed record Register;

    private readonly TrainerAgentSettings _settings;
    private readonly IActorRef _registry;
    private readonly Dictionary<(string, int), (int Attempt, IActorRef ReplyTo, CancellationTokenSource Cancel)> _running = [];
    private readonly Dictionary<(string, int), ProxyOutcome> _unacknowledged = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public static long Completed;
    private static int _threadsSet;

    public TrainerAgent(TrainerAgentSettings settings, IActorRef registry)
    {
        _settings = settings;
        _registry = registry;
        Receive<Register>(_ => _registry.Tell(new RegisterTrainer(_settings.AgentId, _settings.Slots)));
        Receive<WorkAssignment>(Assign);
        Receive<Finished>(f =>
        {
            if (!_running.Remove((f.Experiment, f.TrialId), out var r)) return;
            r.Cancel.Dispose();
            _unacknowledged[(f.Experiment, f.TrialId)] = f.Outcome;
            Interlocked.Increment(ref Completed);
            r.ReplyTo.Tell(new WorkResult(f.Experiment, f.TrialId, f.Attempt, _settings.AgentId, f.Outcome));
        });
        Receive<Expired>(x =>
        {
            if (_running.TryGetValue((x.Experiment, x.TrialId), out var r) && r.Attempt == x.Attempt) r.Cancel.Cancel();
        });
        Receive<WorkAck>(a => _unacknowledged.Remove((a.Experiment, a.TrialId)));
        Receive<GetTrainerStatus>(_ => Sender.Tell(new TrainerStatus(_settings.Slots, _running.Keys.Select(k => $"{k.Item1}#{k.Item2}").Order().ToList(),
            (int)Interlocked.Read(ref Completed), 0)));
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
        foreach (var r in _running.Values) r.Cancel.Cancel();
    }

    private void Assign(WorkAssignment w)
    {
        var key = (w.Experiment, w.TrialId);
        if (_unacknowledged.TryGetValue(key, out var done))
        {
            Sender.Tell(new WorkResult(w.Experiment, w.TrialId, w.Attempt, _settings.AgentId, done)); // the earlier answer was lost
            return;
        }
        if (_running.TryGetValue(key, out var running))
        {
            _running[key] = running with { Attempt = w.Attempt, ReplyTo = Sender }; // a re-issue of work in progress: answer it when done
            return;
        }
        if (_running.Count >= _settings.Slots)
        {
            Sender.Tell(new WorkRefused(w.Experiment, w.TrialId, w.Attempt));
            return;
        }
        var cancel = new CancellationTokenSource();
        _running[key] = (w.Attempt, Sender, cancel);
        var timeout = TimeSpan.FromMilliseconds(Math.Max(0, w.DeadlineUnixMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        Timers.StartSingleTimer($"deadline-{w.Experiment}-{w.TrialId}", new Expired(w.Experiment, w.TrialId, w.Attempt), timeout);
        var self = Self;
        var settings = _settings;
        Task.Run(() => Train(w, settings, cancel.Token), cancel.Token).PipeTo(self,
            success: o => new Finished(w.Experiment, w.TrialId, w.Attempt, o),
            failure: e => new Finished(w.Experiment, w.TrialId, w.Attempt, Failure(Reason(e))));
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
        if (w.QualityMode == "synthetic")
        {
            if (settings.SyntheticDelay > TimeSpan.Zero) await Task.Delay(settings.SyntheticDelay, cancel);
            return new ProxyOutcome(true, null, SyntheticQuality.Of(network), 0, 0, 0, settings.SyntheticDelay.TotalSeconds, 0, network.Params, network.Hash, null, null);
        }
        if (Interlocked.Exchange(ref _threadsSet, 1) == 0) // libtorch's thread pool is per process: set once, before the first training
            TorchSharp.torch.set_num_threads(settings.TorchThreads > 0 ? settings.TorchThreads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, settings.Slots)));
        var weights = Path.Combine(settings.WeightsDirectory, w.Experiment, $"trial{w.TrialId}-{network.Hash[..16]}.bin");
        var r = ProxyTrainer.Run(network, settings.Defaults with { Steps = w.Steps, Seed = w.Seed }, settings.Environment, cancel, null, weights);
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
        system.ActorOf(TrainerAgent.Props(settings, registry ?? Shared.Cluster.NodeHost.RegistryProxy(system)), "trainer-agent");
}
