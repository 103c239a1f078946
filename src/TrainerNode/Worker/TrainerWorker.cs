using Akka.Actor;
using Akka.Event;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Training;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.TrainerNode.Worker;

/// <summary>Settings of one trainer worker: its slots, its environment, and where kept weights go.</summary>
public sealed record TrainerWorkerSettings(int Slots, ProxyEnvironment Environment, string WeightsDirectory, TrainingConfig? Defaults = null)
{
    public TrainingConfig Defaults { get; init; } = Defaults ?? new TrainingConfig();
}

/// <summary>
/// A trainer node's worker: runs up to <c>Slots</c> proxy trainings at once, each on a detached task
/// whose result is piped back to the actor, so the mailbox stays responsive — status, progress and
/// cancellation are answered while training runs. Every accepted request gets exactly one completion
/// (succeeded, failed with a reason, or cancelled); a candidate that cannot be built or diverges is a
/// failed result, and the worker keeps serving.
/// </summary>
public sealed class TrainerWorker : ReceiveActor
{
    private sealed record Running(IActorRef ReplyTo, CancellationTokenSource Cancel);
    private sealed record Finished(string TrialId, ProxyResult Result);
    private sealed record Crashed(string TrialId, Exception Error);
    private sealed record Progressed(string TrialId, TrainingProgress Progress);

    private readonly Dictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly TrainerWorkerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _completed;
    private int _failed;

    public TrainerWorker(TrainerWorkerSettings settings)
    {
        if (settings.Slots < 1) throw new ArgumentOutOfRangeException(nameof(settings), "a trainer needs at least one slot");
        _settings = settings;
        Receive<TrainCandidate>(Start);
        Receive<Progressed>(p =>
        {
            if (_running.TryGetValue(p.TrialId, out var r))
                r.ReplyTo.Tell(new TrainingProgressed(p.TrialId, p.Progress.Step, p.Progress.Steps, p.Progress.Loss, p.Progress.ElapsedSeconds));
        });
        Receive<Finished>(f => Complete(f.TrialId, Outcome(f.Result)));
        Receive<Crashed>(c =>
        {
            if (!_running.TryGetValue(c.TrialId, out var r)) return;
            if (c.Error is OperationCanceledException)
            {
                _running.Remove(c.TrialId);
                r.Cancel.Dispose();
                r.ReplyTo.Tell(new TrainingCancelled(c.TrialId));
                return;
            }
            var reason = c.Error is NasInputException input ? input.Message : $"{c.Error.GetType().Name}: {c.Error.Message}";
            _log.Warning("trial {0} failed: {1}", c.TrialId, reason);
            Complete(c.TrialId, Failure(reason));
        });
        Receive<CancelTraining>(c =>
        {
            if (_running.TryGetValue(c.TrialId, out var r)) r.Cancel.Cancel();
        });
        Receive<GetTrainerStatus>(_ => Sender.Tell(new TrainerStatus(_settings.Slots, _running.Keys.Order().ToList(), _completed, _failed)));
    }

    public static Props Props(TrainerWorkerSettings settings) => Akka.Actor.Props.Create(() => new TrainerWorker(settings));

    private void Start(TrainCandidate request)
    {
        if (_running.ContainsKey(request.TrialId))
        {
            Sender.Tell(new TrainingAccepted(request.TrialId)); // a duplicate of a request in progress: one completion will follow
            return;
        }
        if (_running.Count >= _settings.Slots)
        {
            Sender.Tell(new TrainerBusy(request.TrialId, _settings.Slots));
            return;
        }
        Network network;
        try
        {
            network = ArchJson.Read(request.ArchitectureJson, $"trial {request.TrialId}");
        }
        catch (NasInputException e)
        {
            Sender.Tell(new TrainingAccepted(request.TrialId));
            _failed++;
            Sender.Tell(new TrainingCompleted(request.TrialId, Failure($"invalid architecture: {e.Message}")));
            return;
        }
        if (request.Steps < 1)
        {
            Sender.Tell(new TrainingAccepted(request.TrialId));
            _failed++;
            Sender.Tell(new TrainingCompleted(request.TrialId, Failure($"the step budget must be positive (got {request.Steps})")));
            return;
        }

        var cancel = new CancellationTokenSource();
        _running[request.TrialId] = new Running(Sender, cancel);
        Sender.Tell(new TrainingAccepted(request.TrialId));
        var self = Self;
        var trialId = request.TrialId;
        var config = _settings.Defaults with { Steps = request.Steps, Seed = request.Seed };
        var weights = request.SaveWeights ? Path.Combine(_settings.WeightsDirectory, $"{Sanitize(trialId)}-{network.Hash[..16]}.bin") : null;
        var progress = new ActorProgress(p => self.Tell(new Progressed(trialId, p)));
        Task.Run(() => ProxyTrainer.Run(network, config, _settings.Environment, cancel.Token, progress, weights), cancel.Token)
            .PipeTo(self, success: r => new Finished(trialId, r), failure: e => new Crashed(trialId, e is AggregateException a ? a.InnerException ?? a : e));
    }

    private void Complete(string trialId, ProxyOutcome outcome)
    {
        if (!_running.Remove(trialId, out var r)) return;
        r.Cancel.Dispose();
        if (outcome.Succeeded) _completed++;
        else _failed++;
        r.ReplyTo.Tell(new TrainingCompleted(trialId, outcome));
    }

    protected override void PostStop()
    {
        foreach (var r in _running.Values) r.Cancel.Cancel();
        base.PostStop();
    }

    private static ProxyOutcome Outcome(ProxyResult r) => new(r.Succeeded, r.FailureReason, r.Score, r.Loss, r.ValidationLoss, r.StepsPerSecond,
        r.WallSeconds, r.Steps, r.Params, r.ArchitectureHash, r.WeightsPath, r.WeightsSha256);

    private static ProxyOutcome Failure(string reason) => new(false, reason, 0, 0, 0, 0, 0, 0, 0, "", null, null);

    private static string Sanitize(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    /// <summary>Reports progress by message: the training thread never touches actor state.</summary>
    private sealed class ActorProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
