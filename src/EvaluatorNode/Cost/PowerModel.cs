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
            case Mapping.None or Mapping.Host: // the host CPU's energy is not the accelerator's
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
    /// The most dynamic power the array draws on dense work: the highest dynamic energy per second among
    /// dense reference convolutions (1×1 and 3×3, 56×56 down to 7×7, 64 to 512 channels, weights cached),
    /// each at the rate it actually runs on this hardware, on the calibrated time base (a calibrated
    /// preset's time is slope × simulated). Every action counts, weight broadcast and activation traffic
    /// included. Defined for every valid hardware description: a part whose activation path cannot feed
    /// all its MAC ways simply runs these layers below peak and draws less.
    /// </summary>
    public static double PeakDynamicPowerW(HardwareConfig h) => PeakPower.GetValue(h, ComputePeakDynamicPowerW).Value;

    // A per-hardware constant, needed for every layer's static energy: computed once per instance.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<HardwareConfig, StrongBox<double>> PeakPower = new();

    private static StrongBox<double> ComputePeakDynamicPowerW(HardwareConfig h)
    {
        var worst = 0.0;
        foreach (var (size, channels, kernel) in ReferenceLayers)
        {
            var b = new NasCluster.Shared.Architecture.NetworkBuilder("reference");
            var x = b.Input(size, size, channels);
            var n = b.Build(b.Conv(x, channels, kernel));
            var info = n.Infos[1];
            LayerPlan plan;
            try
            {
                plan = Compiler.EdgeTpuCompiler.Plan(info, h, cached: true, activationReserve: long.MaxValue);
            }
            catch (UnmappableNetworkException)
            {
                continue; // too big for this part's PE memory: it cannot run it, so it does not set the peak
            }
            var seconds = h.CalibrationSlope * Compiler.LayerCycles.Analytical(plan, h).Total / h.ClockHz;
            worst = Math.Max(worst, DynamicEnergyPj(plan, h) * 1e-12 / seconds);
        }
        // No reference layer fits (a PE memory too small for a 7×7×512 row): a 1×1 conv on one pixel is the densest work left.
        if (worst == 0)
        {
            var b = new NasCluster.Shared.Architecture.NetworkBuilder("reference");
            var n = b.Build(b.Conv(b.Input(1, 1, 64), 64, 1));
            var plan = Compiler.EdgeTpuCompiler.Plan(n.Infos[1], h, cached: true, activationReserve: long.MaxValue);
            worst = DynamicEnergyPj(plan, h) * 1e-12 / (h.CalibrationSlope * Compiler.LayerCycles.Analytical(plan, h).Total / h.ClockHz);
        }
        return new StrongBox<double>(worst);
    }

    private static readonly (int Size, int Channels, int Kernel)[] ReferenceLayers =
        [(56, 64, 3), (56, 128, 1), (28, 128, 3), (28, 256, 1), (14, 256, 3), (14, 512, 1), (7, 512, 3), (7, 512, 1)];

    /// <summary>What the powered, idle accelerator draws (leakage, clock tree): a fraction of the peak dynamic power.</summary>
    public static double StaticPowerW(HardwareConfig h) => h.Energy.StaticFraction * PeakDynamicPowerW(h);

    /// <summary>What the chip draws on its densest work; presets stay within <see cref="HardwareConfig.PowerBudgetW"/>.</summary>
    public static double FullUtilizationPowerW(HardwareConfig h) => PeakDynamicPowerW(h) + StaticPowerW(h);

    /// <summary>Static energy over <paramref name="ms"/> of calibrated (device) time.</summary>
    public static double StaticEnergyPj(HardwareConfig h, double ms) => StaticPowerW(h) * ms * 1e9;
}
