namespace NasCluster.Shared.Protocol;

/// <summary>Messages to sharded evaluator entities; routed by <see cref="IWithEntityId.EntityId"/>.</summary>
public interface IEvaluationMessage : INasMessage;

/// <summary>Messages that carry the id of the sharded entity they are for.</summary>
public interface IWithEntityId
{
    string EntityId { get; }
}

/// <summary>
/// The performance/power evaluation service across the cluster. An evaluator entity is identified by
/// <c>&lt;hardware&gt;/&lt;architecture hash&gt;</c>: it computes the cost once, answers every request for it,
/// and keeps the result until passivated. Costs are deterministic, so a duplicate request is harmless.
/// </summary>
public static class EvaluationProtocol
{
    public const string ShardTypeName = "evaluator";
    public const int NumberOfShards = 100;

    public static string EntityIdOf(string hardwareId, string architectureHash) => $"{hardwareId}/{architectureHash}";

    /// <summary>
    /// Price a network. <paramref name="HardwareJson"/> is the hardware file's text for custom hardware
    /// (null for presets, which every node knows by name).
    /// </summary>
    public sealed record Evaluate(string EntityId, string Hardware, string? HardwareJson, string ArchitectureJson, Fidelity Fidelity, AttemptId Attempt)
        : IEvaluationMessage, IWithEntityId;

    /// <summary>A cost, with the evaluator's simulator version (an experiment accepts only its own).</summary>
    public sealed record EvaluationResult(string EntityId, AttemptId Attempt, CostSummary Cost, string Node, string SimulatorVersion) : IEvaluationMessage;

    /// <summary>The architecture cannot be priced (invalid, or it does not map onto the hardware): deterministic, so final.</summary>
    public sealed record EvaluationFailed(string EntityId, AttemptId Attempt, string Reason) : IEvaluationMessage;

    public sealed record CostSummary(double LatencyMs, double SimulatedMs, double EnergyMj, double PowerW, double Utilization,
        long Params, long Macs, long CachedWeightBytes, long StreamedWeightBytes);
}
