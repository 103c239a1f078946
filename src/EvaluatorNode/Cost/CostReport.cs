using NasCluster.EvaluatorNode.Compiler;
using NasCluster.Shared.Protocol;

namespace NasCluster.EvaluatorNode.Cost;

/// <summary>The cost of one layer: its share of the latency, its energy, utilisation and what limits it.</summary>
public sealed record LayerCost(
    string Name,
    string Op,
    Mapping Mapping,
    double Cycles,
    double LatencyMs,
    double EnergyUj,
    double Utilization,
    Bound Bound,
    long Macs,
    long OffChipBytes);

/// <summary>
/// What both latency models return, in the same shape. <see cref="LatencyMs"/> is the device-equivalent
/// latency after the hardware's calibration map; <see cref="SimulatedMs"/> the raw simulated time of the
/// accelerator; per-layer latencies are raw times × the calibration slope (they add up to
/// <c>LatencyMs − RuntimeOverheadMs</c>).
/// </summary>
public sealed record CostReport(
    string Hardware,
    Fidelity Fidelity,
    double LatencyMs,
    double SimulatedMs,
    double RuntimeOverheadMs,
    double EnergyMj,
    double PowerW,
    double Utilization,
    long Params,
    long Macs,
    long CachedWeightBytes,
    long StreamedWeightBytes,
    long ActivationSpillBytes,
    IReadOnlyList<LayerCost> Layers)
{
    public double Cycles => Layers.Sum(l => l.Cycles);
}
