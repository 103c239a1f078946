using NasCluster.EvaluatorNode.Compiler;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;

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

/// <summary>
/// The report in wire form (<see cref="CostBreakdown"/>: what the cost service and the sharded entities
/// return), and the names of mappings and bounds that <c>estimate --json</c> and the service share.
/// </summary>
public static class CostReportWire
{
    public static CostBreakdown ToBreakdown(this CostReport r, bool layers = true) =>
        new(r.Hardware, r.Fidelity, r.LatencyMs, r.SimulatedMs, r.RuntimeOverheadMs, r.EnergyMj, r.PowerW, r.Utilization, r.Params, r.Macs,
            r.CachedWeightBytes, r.StreamedWeightBytes, r.ActivationSpillBytes,
            layers ? r.Layers.Select(l => new LayerBreakdown(l.Name, l.Op, Name(l.Mapping), l.LatencyMs, l.EnergyUj, l.Utilization, Name(l.Bound), l.Macs, l.OffChipBytes)).ToArray() : []);

    public static string Name(Bound b) => b switch
    {
        Bound.Compute => "compute",
        Bound.ActivationBandwidth => "activation bandwidth",
        Bound.WeightLoad => "weight load",
        Bound.OffChip => "off-chip",
        _ => "overhead",
    };

    public static string Name(Mapping m) => m switch
    {
        Mapping.SpatialSplit => "spatial",
        Mapping.ChannelSplit => "channel",
        Mapping.Vector => "vector",
        _ => "-",
    };
}
