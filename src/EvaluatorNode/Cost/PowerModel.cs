using System.Runtime.CompilerServices;
using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Hardware;

namespace NasCluster.EvaluatorNode.Cost;

/// <summary>
/// Energy per inference as activity counts × energy per action plus static power × time (Accelergy
/// style, edgetpu.md §6.5). Depthwise layers pay about one PE-memory byte read per MAC because each
/// fetched activation is used once; full convs broadcast one activation to every lane, so their
/// energy per MAC is dominated by the MAC itself.
/// </summary>
public static class PowerModel
{
    /// <summary>Pixels streamed per weight-register load [A 4–16] (edgetpu.md §6.5).</summary>
    public const double PixelsPerWeightLoad = 8;

    /// <summary>Dynamic energy of one layer in picojoules (no static part).</summary>
    public static double DynamicEnergyPj(LayerPlan p, HardwareConfig h)
    {
        var e = h.Energy;
        var offChip = (p.OffChipWeightBytes + p.SpillBytes) * e.OffChipPjPerByte;
        switch (p.Mapping)
        {
            case Mapping.None:
                return 0;
            case Mapping.Vector:
                return p.VectorElements * e.VectorOpPj
                       + p.Info.InputBytes * e.PeMemReadPjPerByte
                       + p.Info.OutputBytes * e.PeMemWritePjPerByte
                       + offChip;
            default:
                return p.Macs * e.MacPj
                       + p.Macs / PixelsPerWeightLoad * e.CoreMemReadPjPerByte
                       + (double)p.WeightBytes * p.WeightCopies * (e.BroadcastPjPerByte + e.CoreMemWritePjPerByte)
                       + p.ActivationFetches * e.PeMemReadPjPerByte
                       + p.Info.OutputBytes * e.PeMemWritePjPerByte
                       + (double)p.ActivationBroadcastBytes * p.ActivationCopies * (e.BroadcastPjPerByte + e.PeMemWritePjPerByte)
                       + offChip;
        }
    }

    /// <summary>
    /// Dynamic power with every MAC busy: the highest energy per MAC among dense reference convolutions
    /// (1×1 and 3×3, 56×56 down to 7×7, 64 to 512 channels, weights cached) that keep the array at least
    /// 80% busy — every action they perform, weight broadcast and activation traffic included — at the
    /// peak MAC rate. Layers that cannot fill the array (few pixels per weight load) do not run at full
    /// utilisation and so do not set this bound.
    /// </summary>
    public static double PeakDynamicPowerW(HardwareConfig h) => PeakPower.GetValue(h, ComputePeakDynamicPowerW).Value;

    // A per-hardware constant, needed for every layer's static energy: computed once per instance.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<HardwareConfig, StrongBox<double>> PeakPower = new();

    private static StrongBox<double> ComputePeakDynamicPowerW(HardwareConfig h)
    {
        var worstPjPerMac = 0.0;
        foreach (var (size, channels, kernel) in ReferenceLayers)
        {
            var b = new NasCluster.Shared.Architecture.NetworkBuilder("reference");
            var x = b.Input(size, size, channels);
            var n = b.Build(b.Conv(x, channels, kernel));
            var info = n.Infos[1];
            var plan = Compiler.EdgeTpuCompiler.Plan(info, h, cached: true, activationReserve: long.MaxValue);
            var utilization = info.Macs / (Compiler.LayerCycles.Analytical(plan, h).Total * h.PeakMacsPerCycle);
            if (utilization >= 0.8) worstPjPerMac = Math.Max(worstPjPerMac, DynamicEnergyPj(plan, h) / info.Macs);
        }
        if (worstPjPerMac == 0)
            throw new InvalidOperationException($"{h.Id}: no reference convolution reaches 80% utilisation; full-utilisation power is undefined");
        return new StrongBox<double>(worstPjPerMac * 1e-12 * h.PeakMacsPerCycle * h.ClockHz);
    }

    private static readonly (int Size, int Channels, int Kernel)[] ReferenceLayers =
        [(56, 64, 3), (56, 128, 1), (28, 128, 3), (28, 256, 1), (14, 256, 3), (14, 512, 1), (7, 512, 3), (7, 512, 1)];

    public static double StaticPowerW(HardwareConfig h) => h.Energy.StaticFraction * PeakDynamicPowerW(h);

    /// <summary>What the chip draws at full utilisation; must stay within <see cref="HardwareConfig.PowerBudgetW"/>.</summary>
    public static double FullUtilizationPowerW(HardwareConfig h) => PeakDynamicPowerW(h) + StaticPowerW(h);

    public static double StaticEnergyPj(HardwareConfig h, double cycles) => StaticPowerW(h) * (cycles / h.ClockHz) * 1e12;
}
