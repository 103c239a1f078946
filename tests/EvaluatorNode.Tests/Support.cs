using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>Small networks for probing the cost models: one IBN block, or one layer, on its own.</summary>
internal static class Probe
{
    public static readonly HardwareConfig Pixel6 = HardwarePresets.Get("pixel6");

    public static Network BlockNet(int hw, int channels, IbnSpec spec)
    {
        var b = new NetworkBuilder("block");
        var x = b.Input(hw, hw, channels);
        return b.Build(Ibn.Build(b, x, spec, "blk"));
    }

    public static Network LayerNet(int hw, int channels, Op op)
    {
        var b = new NetworkBuilder("layer");
        var x = b.Input(hw, hw, channels);
        return b.Build(b.Add(op, "layer", x));
    }

    public static CostReport Cost(Network n, HardwareConfig? h = null, Fidelity f = Fidelity.Analytical) =>
        CostModel.Estimate(n, h ?? Pixel6, f, new LayerCostCache());

    public static CostReport Block(int hw, int channels, IbnKind kind, int groupSize = 32, int expansion = 4, int kernel = 3, HardwareConfig? h = null) =>
        Cost(BlockNet(hw, channels, new IbnSpec(kind, channels, kernel, 1, expansion, groupSize)), h);
}
