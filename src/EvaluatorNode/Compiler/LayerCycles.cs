using NasCluster.EvaluatorNode.Hardware;

namespace NasCluster.EvaluatorNode.Compiler;

/// <summary>The closed-form cycle count of a planned layer and its parts (edgetpu.md §6.3).</summary>
public readonly record struct LayerTime(
    double Total,
    double Overhead,
    double ComputePure,
    double ActivationPenalty,
    double WeightLoad,
    double OffChip,
    double ActivationBroadcast)
{
    public Bound Bound
    {
        get
        {
            var best = (Value: Overhead, Bound: Bound.Overhead);
            void Consider(double v, Bound b)
            {
                if (v > best.Value) best = (v, b);
            }
            Consider(ComputePure, Bound.Compute);
            Consider(ActivationPenalty + ActivationBroadcast, Bound.ActivationBandwidth);
            Consider(WeightLoad, Bound.WeightLoad);
            Consider(OffChip, Bound.OffChip);
            return best.Bound;
        }
    }
}

public static class LayerCycles
{
    /// <summary>
    /// T = layer overhead + first weight tile + max(compute, remaining weight tiles, off-chip traffic,
    /// activation broadcast): later weight tiles and off-chip traffic overlap compute (double buffering).
    /// </summary>
    public static LayerTime Analytical(LayerPlan p, HardwareConfig h)
    {
        if (p.Mapping is Mapping.None or Mapping.Host) return new LayerTime(0, 0, 0, 0, 0, 0, 0); // no accelerator time
        double overhead = h.LayerOverheadCycles;
        var offChip = (p.OffChipWeightBytes + p.SpillBytes) / h.OffChipBytesPerCycle;
        if (p.Mapping is Mapping.Vector)
        {
            var total = overhead + Math.Max(p.VectorCycles, offChip);
            var elementCycles = (double)p.VectorElements / (h.Cores * (long)h.LanesPerCore);
            return new LayerTime(total, overhead, Math.Min(elementCycles, p.VectorCycles),
                Math.Max(0, p.VectorCycles - elementCycles), 0, offChip, 0);
        }
        var pure = (double)p.UnitsPerCore * p.ReductionCycles;
        var passOverhead = (double)p.PassesPerCore * h.PassOverheadCycles;
        var compute = pure * p.Slow + passOverhead;
        var weights = (double)p.WeightBytes / h.WeightBroadcastBytesPerCycle;
        var firstTile = weights / p.WeightTiles;
        var broadcast = (double)p.ActivationBroadcastBytes / h.ActivationBroadcastBytesPerCycle;
        var t = overhead + firstTile + Math.Max(Math.Max(compute, weights - firstTile), Math.Max(offChip, broadcast));
        return new LayerTime(t, overhead + passOverhead, pure, pure * (p.Slow - 1), weights, offChip, broadcast);
    }
}
