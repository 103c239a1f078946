namespace NasCluster.Shared.Protocol;

/// <summary>Marker of every message between the coordinator side and trainer workers (binds the serializer).</summary>
public interface ITrainingMessage : INasMessage;

/// <summary>
/// Messages of the trainer worker: a request to train one candidate's proxy, what the worker answers
/// (accepted or busy), progress while it trains, and exactly one completion per accepted request —
/// succeeded, failed with a reason, or cancelled.
/// </summary>
public static class TrainingProtocol
{
    /// <summary>Train the proxy of the network in <paramref name="ArchitectureJson"/> (arch.json text).</summary>
    public sealed record TrainCandidate(string TrialId, string ArchitectureJson, int Steps, long Seed, bool SaveWeights = false) : ITrainingMessage;

    public sealed record TrainingAccepted(string TrialId) : ITrainingMessage;

    /// <summary>All slots are busy; ask again when one frees (the coordinator side pulls work by free slot).</summary>
    public sealed record TrainerBusy(string TrialId, int Slots) : ITrainingMessage;

    public sealed record TrainingProgressed(string TrialId, int Step, int Steps, double Loss, double ElapsedSeconds) : ITrainingMessage;

    /// <summary>The one answer to an accepted request.</summary>
    public sealed record TrainingCompleted(string TrialId, ProxyOutcome Outcome) : ITrainingMessage;

    public sealed record CancelTraining(string TrialId) : ITrainingMessage;

    public sealed record TrainingCancelled(string TrialId) : ITrainingMessage;

    public sealed record GetTrainerStatus : ITrainingMessage
    {
        public static readonly GetTrainerStatus Instance = new();
    }

    public sealed record TrainerStatus(int Slots, IReadOnlyList<string> Running, int Completed, int Failed) : ITrainingMessage;

    // Work pulling between an experiment and trainer agents (one agent per trainer node).

    /// <summary>An agent announces its free slots to an experiment; each slot may receive one assignment.</summary>
    public sealed record TrainerReady(string AgentId, int FreeSlots) : ITrainingMessage;

    /// <summary>Train trial <paramref name="TrialId"/> (attempt <paramref name="Attempt"/>) of an experiment; answer with <see cref="WorkResult"/> before the deadline.</summary>
    public sealed record WorkAssignment(string Experiment, int TrialId, int Attempt, string ArchitectureJson, string QualityMode, int Steps, long Seed, long DeadlineUnixMs)
        : ITrainingMessage;

    /// <summary>An agent had no free slot after all; the experiment puts the work back.</summary>
    public sealed record WorkRefused(string Experiment, int TrialId, int Attempt) : ITrainingMessage;

    public sealed record WorkResult(string Experiment, int TrialId, int Attempt, string AgentId, ProxyOutcome Outcome) : ITrainingMessage;

    /// <summary>The result is recorded (or was a late or duplicate one and was dropped): the agent may forget it.</summary>
    public sealed record WorkAck(string Experiment, int TrialId, int Attempt) : ITrainingMessage;

    /// <summary>A proxy training's result as it travels: score (validation accuracy), loss, speed, and the weights file if kept.</summary>
    public sealed record ProxyOutcome(
        bool Succeeded,
        string? FailureReason,
        double Score,
        double Loss,
        double ValidationLoss,
        double StepsPerSecond,
        double WallSeconds,
        int Steps,
        long Params,
        string ArchitectureHash,
        string? WeightsPath,
        string? WeightsSha256);
}
