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

    /// <summary>
    /// <c>&lt;hardware fingerprint&gt;/&lt;architecture hash&gt;</c> for the analytical model; the tile-level
    /// simulation's numbers differ, so its entities are <c>…/detailed</c> (one entity never answers both).
    /// </summary>
    public static string EntityIdOf(string hardwareFingerprint, string architectureHash, Fidelity fidelity) =>
        fidelity == Fidelity.Analytical ? $"{hardwareFingerprint}/{architectureHash}" : $"{hardwareFingerprint}/{architectureHash}/{Kinds.Name(fidelity)}";

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

    /// <summary>
    /// Price a network for an outside client of the cost service (<c>nascluster serve --join</c>): the same
    /// entity as <see cref="Evaluate"/>, answered with the whole report (<see cref="EvaluationReport"/>) —
    /// with the per-layer breakdown when <paramref name="Layers"/> — or <see cref="ReportFailed"/>.
    /// </summary>
    public sealed record EvaluateReport(string EntityId, string Hardware, string? HardwareJson, string ArchitectureJson, Fidelity Fidelity, bool Layers, long RequestId)
        : IEvaluationMessage, IWithEntityId;

    /// <summary>The answer to <see cref="EvaluateReport"/>; <paramref name="FromMemory"/>: the entity had priced it before.</summary>
    public sealed record EvaluationReport(string EntityId, long RequestId, CostBreakdown Report, bool FromMemory, string Node, string SimulatorVersion) : IEvaluationMessage;

    /// <summary>The network of an <see cref="EvaluateReport"/> cannot be priced (it does not map onto the hardware).</summary>
    public sealed record ReportFailed(string EntityId, long RequestId, string Reason) : IEvaluationMessage;

    /// <summary>Everything the cost models report of one network (what <c>estimate --json</c> prints), in wire form.</summary>
    /// <remarks>
    /// Fields after <c>Layers</c> were added with simulator ppe-2 and are optional (older senders leave them at
    /// their defaults): the host's share, the average power with static power included, the preset's budget and
    /// the split between the accelerator and the host CPU.
    /// </remarks>
    public sealed record CostBreakdown(string Hardware, Fidelity Fidelity, double LatencyMs, double SimulatedMs, double RuntimeOverheadMs,
        double EnergyMj, double PowerW, double Utilization, long Params, long Macs, long CachedWeightBytes, long StreamedWeightBytes,
        long ActivationSpillBytes, IReadOnlyList<LayerBreakdown> Layers, HostBreakdown? Host = null, double AveragePowerW = 0, double PowerBudgetW = 0,
        IReadOnlyList<SegmentBreakdown>? Segments = null)
    {
        public CostSummary Summary => new(LatencyMs, SimulatedMs, EnergyMj, PowerW, Utilization, Params, Macs, CachedWeightBytes, StreamedWeightBytes);

        public bool OverPowerBudget => PowerBudgetW > 0 && AveragePowerW > PowerBudgetW;
    }

    /// <summary>One segment of the compiler's split between the accelerator ("tpu") and the host CPU ("cpu").</summary>
    public sealed record SegmentBreakdown(string Device, string FirstLayer, string LastLayer, int Layers, double Ms);

    /// <summary>The host's share of a latency: invocation, input and output transfers, link latency of off-chip transfers, CPU ops.</summary>
    public sealed record HostBreakdown(double InvocationMs, double InputMs, double OutputMs, double LinkLatencyMs, double CpuMs)
    {
        public double TotalMs => InvocationMs + InputMs + OutputMs + LinkLatencyMs + CpuMs;
    }

    /// <summary>One layer of a <see cref="CostBreakdown"/>; mapping and bound by their <c>estimate --json</c> names.</summary>
    public sealed record LayerBreakdown(string Name, string Op, string Mapping, double LatencyMs, double EnergyUj, double Utilization, string Bound,
        long Macs, long OffChipBytes);

    public sealed record CostSummary(double LatencyMs, double SimulatedMs, double EnergyMj, double PowerW, double Utilization,
        long Params, long Macs, long CachedWeightBytes, long StreamedWeightBytes);
}
