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

/// <summary>One segment of the compiler's split: consecutive layers on one side (the accelerator or the host CPU).</summary>
public sealed record Segment(bool OnHost, string FirstLayer, string LastLayer, int Layers, double Ms)
{
    public string Device => OnHost ? "cpu" : "tpu";
}

/// <summary>
/// The host's share of an inference: the fixed cost per invocation (a calibrated preset's intercept and
/// the runtime's overhead), the input and output crossing the host link, the link latency of off-chip
/// transfers on parts without DRAM of their own, and the ops the host CPU runs.
/// </summary>
public sealed record HostCost(double InvocationMs, double InputMs, double OutputMs, double LinkLatencyMs, double CpuMs)
{
    public static readonly HostCost None = new(0, 0, 0, 0, 0);

    public double TotalMs => InvocationMs + InputMs + OutputMs + LinkLatencyMs + CpuMs;
}

/// <summary>
/// What both latency models return, in the same shape. <see cref="LatencyMs"/> is the device-equivalent
/// latency: the accelerator's simulated time through the hardware's calibration slope plus the host's
/// share (<see cref="Host"/>); <see cref="SimulatedMs"/> the raw simulated time of the array; per-layer
/// latencies are raw times × the calibration slope, or for layers on the host CPU their CPU time (they add
/// up to <c>LatencyMs − Host.TotalMs + Host.CpuMs</c>).
/// Energy counts the accelerator's dynamic energy and its static power over the whole latency;
/// <see cref="PowerW"/> is the active power, idle subtracted: dynamic energy over latency (Akin et al.
/// §5.5 measure power the same way, device power while running minus idle power).
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

    public HostCost Host { get; init; } = HostCost.None;

    /// <summary>The compiler's split: maximal runs of layers on the accelerator or on the host CPU, in execution order.</summary>
    public IReadOnlyList<Segment> Segments { get; init; } = [];

    /// <summary>Time on the accelerator (calibrated) and on the host CPU: the TPU/CPU split.</summary>
    public double AcceleratorMs => LatencyMs - Host.TotalMs;

    /// <summary>Average power with static power included (energy over latency), watts.</summary>
    public double AveragePowerW => LatencyMs > 0 ? EnergyMj / LatencyMs : 0;

    /// <summary>The preset's power budget, to compare <see cref="AveragePowerW"/> with.</summary>
    public double PowerBudgetW { get; init; }

    /// <summary>The network averages more than the chip's budget: it could not run at this speed on the device without throttling.</summary>
    public bool OverPowerBudget => PowerBudgetW > 0 && AveragePowerW > PowerBudgetW;
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
            layers ? r.Layers.Select(l => new LayerBreakdown(l.Name, l.Op, Name(l.Mapping), l.LatencyMs, l.EnergyUj, l.Utilization, Name(l.Bound), l.Macs, l.OffChipBytes)).ToArray() : [],
            new HostBreakdown(r.Host.InvocationMs, r.Host.InputMs, r.Host.OutputMs, r.Host.LinkLatencyMs, r.Host.CpuMs), r.AveragePowerW, r.PowerBudgetW,
            r.Segments.Select(s => new SegmentBreakdown(s.Device, s.FirstLayer, s.LastLayer, s.Layers, s.Ms)).ToArray());

    public static string Name(Bound b) => b switch
    {
        Bound.Compute => "compute",
        Bound.ActivationBandwidth => "activation bandwidth",
        Bound.WeightLoad => "weight load",
        Bound.OffChip => "off-chip",
        Bound.HostCpu => "host cpu",
        _ => "overhead",
    };

    public static string Name(Mapping m) => m switch
    {
        Mapping.SpatialSplit => "spatial",
        Mapping.ChannelSplit => "channel",
        Mapping.Vector => "vector",
        Mapping.Host => "host",
        _ => "-",
    };
}
