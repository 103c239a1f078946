namespace NasCluster.Shared.Protocol;

/// <summary>Marker of every message between experiments and trainer agents (binds the serializer).</summary>
public interface ITrainingMessage : INasMessage;

/// <summary>
/// Work pulling between an experiment and the trainer agents (one per trainer node): an experiment assigns
/// a trial's proxy training to an agent with a free slot; the agent answers each assignment with exactly one
/// result (or a refusal when it has no free slot after all) and keeps the result until the experiment
/// acknowledges it, having persisted it.
/// </summary>
public static class TrainingProtocol
{
    /// <summary>What an agent is doing (for operators and tests).</summary>
    public sealed record GetTrainerStatus : ITrainingMessage
    {
        public static readonly GetTrainerStatus Instance = new();
    }

    /// <summary>
    /// An agent's slots, its trainings under way (<c>experiment#trial</c>), its finished and failed counts,
    /// and how many results it keeps until their experiment acknowledges them.
    /// </summary>
    public sealed record TrainerStatus(int Slots, IReadOnlyList<string> Running, int Completed, int Failed, int Unacknowledged) : ITrainingMessage;

    /// <summary>
    /// Train trial <paramref name="TrialId"/> (attempt <paramref name="Attempt"/>) of an experiment; answer with <see cref="WorkResult"/> before
    /// the deadline. <paramref name="Unit"/>: which of the trial's trainings (seeds) this is; each is its own work.
    /// </summary>
    /// <remarks><paramref name="Training"/>: the dataset and recipe the experiment recorded (null for experiments older than that: the node's defaults).</remarks>
    public sealed record WorkAssignment(string Experiment, int TrialId, int Attempt, string ArchitectureJson, QualityMode QualityMode, int Steps, long Seed, long DeadlineUnixMs,
        int Unit = 0, ExperimentProtocol.ProxyTraining? Training = null) : ITrainingMessage;

    /// <summary>An agent had no free slot after all; the experiment puts the work back.</summary>
    public sealed record WorkRefused(string Experiment, int TrialId, int Attempt, int Unit = 0) : ITrainingMessage;

    public sealed record WorkResult(string Experiment, int TrialId, int Attempt, string AgentId, ProxyOutcome Outcome, int Unit = 0) : ITrainingMessage;

    /// <summary>The result is recorded (or was a late or duplicate one and was dropped): the agent may forget it.</summary>
    public sealed record WorkAck(string Experiment, int TrialId, int Attempt, int Unit = 0) : ITrainingMessage;

    /// <summary>
    /// The experiment no longer needs these kept weights files (their trials left both Pareto fronts): the
    /// agent that wrote them deletes them, if they are in its own weights directory.
    /// </summary>
    public sealed record ReleaseWeights(string Experiment, IReadOnlyList<string> Paths) : ITrainingMessage;

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
