
namespace NasCluster.Shared.Architecture;

/// <summary>
/// A deterministic stand-in for a trained accuracy, for benchmarks that need thousands of cheap trials
/// (bench search, the Optuna driver). Never used by real searches. It rewards capacity and compute with
/// diminishing returns and larger receptive fields a little, with a small architecture-specific wobble:
/// <code>
/// Q = 0.78 + 0.10·(1 − e^(−params / 4M)) + 0.06·(1 − e^(−MACs / 1.5G)) + 0.01·(share of k×k convs with k ≥ 5) + 0.002·u(hash)
/// </code>
/// where u(hash) ∈ [−1, 1] comes from the first bytes of the architecture hash.
/// </summary>
public static class SyntheticQuality
{
    public static double Of(Network network)
    {
        var convs = network.Layers.Select(l => l.Op).OfType<Conv2DOp>().Where(c => c.KernelH > 1).ToList();
        var large = convs.Count == 0 ? 0 : convs.Count(c => c.KernelH >= 5) / (double)convs.Count;
        var wobble = Convert.ToUInt32(network.Hash[..8], 16) / (double)uint.MaxValue * 2 - 1;
        return 0.78
               + 0.10 * (1 - Math.Exp(-network.Params / 4e6))
               + 0.06 * (1 - Math.Exp(-network.Macs / 1.5e9))
               + 0.01 * large
               + 0.002 * wobble;
    }
}
