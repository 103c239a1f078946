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
                       + (double)p.ActivationBroadcastBytes * p.PesUsed * (e.BroadcastPjPerByte + e.PeMemWritePjPerByte)
                       + offChip;
        }
    }

    /// <summary>
    /// Dynamic power with every MAC busy on a full convolution with cached weights: one MAC, a share of a
    /// weight-register load and a 1/lanes share of an activation fetch per MAC.
    /// </summary>
    public static double PeakDynamicPowerW(HardwareConfig h)
    {
        var e = h.Energy;
        var perMacPj = e.MacPj + e.CoreMemReadPjPerByte / PixelsPerWeightLoad + e.PeMemReadPjPerByte / h.LanesPerCore;
        return perMacPj * 1e-12 * h.PeakMacsPerCycle * h.ClockHz;
    }

    public static double StaticPowerW(HardwareConfig h) => h.Energy.StaticFraction * PeakDynamicPowerW(h);

    /// <summary>What the chip draws at full utilisation; must stay within <see cref="HardwareConfig.PowerBudgetW"/>.</summary>
    public static double FullUtilizationPowerW(HardwareConfig h) => PeakDynamicPowerW(h) + StaticPowerW(h);

    public static double StaticEnergyPj(HardwareConfig h, double cycles) => StaticPowerW(h) * (cycles / h.ClockHz) * 1e12;
}
