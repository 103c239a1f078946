using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.Zoo;

/// <summary>
/// The Edge TPU model families from the TF Model Garden (edgetpu.md §3, §8): MobileNetEdgeTPU v1,
/// MobileNetEdgeTPUv2 Tiny…L and EfficientNet-EdgeTPU S/M/L. All ReLU, no squeeze-excite, 1001 classes.
/// </summary>
public static class EdgeTpuModels
{
    private record struct V1Stack(int In, int Out, int Kernel, int Repeats, int Expansion, int Stride, IbnKind Kind, bool Skip = true);

    // mobilenet_edgetpu_v1_model_blocks.py; "no_depthwise" (3×3 full-conv expansion) and "fused" are both fused IBNs.
    private static readonly V1Stack[] V1Stacks =
    [
        new(32, 16, 3, 1, 1, 1, IbnKind.Fused),
        new(16, 32, 3, 1, 8, 2, IbnKind.Fused),
        new(32, 32, 3, 3, 4, 1, IbnKind.Fused),
        new(32, 48, 3, 1, 8, 2, IbnKind.Fused),
        new(48, 48, 3, 3, 4, 1, IbnKind.Fused),
        new(48, 96, 3, 1, 8, 2, IbnKind.Depthwise),
        new(96, 96, 3, 3, 4, 1, IbnKind.Depthwise),
        new(96, 96, 3, 1, 8, 1, IbnKind.Depthwise, Skip: false),
        new(96, 96, 3, 3, 4, 1, IbnKind.Depthwise),
        new(96, 160, 5, 1, 8, 2, IbnKind.Depthwise),
        new(160, 160, 5, 3, 4, 1, IbnKind.Depthwise),
        new(160, 192, 3, 1, 8, 1, IbnKind.Depthwise),
    ];

    /// <summary>MobileNetEdgeTPU (v1) with depth multiplier <paramref name="dm"/> (1.0: 4.0M / 990M; 0.75: 2.9M / 624M).</summary>
    public static Network MobileNetEdgeTpu(int resolution, double dm, string name)
    {
        var b = new NetworkBuilder(name);
        var x = b.Input(resolution, resolution, 3);
        int C(int c) => Channels.Round(c, dm);
        x = b.Conv(x, C(32), 3, 2, name: "stem");
        var index = 0;
        foreach (var stack in V1Stacks)
            for (var r = 0; r < stack.Repeats; r++, index++)
                x = Ibn.Build(b, x, new IbnSpec(stack.Kind, C(stack.Out), stack.Kernel, r == 0 ? stack.Stride : 1, stack.Expansion,
                    Skip: stack.Skip), $"block{index}");
        // TF-slim's finegrain_classification_mode: the top layer is never narrowed below 1280.
        var top = dm < 1.0 ? 1280 : C(1280);
        return b.Build(ClassificationHead.Build(b, x, 1001, top));
    }

    /// <summary>The v2 variants: stem (kernel, filters), per-group filters, top filters, TF group size (output filters per group).</summary>
    public sealed record V2Variant(string Name, int StemKernel, int StemFilters, int[] Filters, int Top, int GroupFiltersPerGroup, bool Tiny = false);

    public static readonly V2Variant[] V2Variants =
    [
        new("mobilenet-edgetpu-v2-tiny", 5, 32, [16, 32, 48, 80, 112, 160, 192], 1280, 64, Tiny: true),
        new("mobilenet-edgetpu-v2-xs", 5, 32, [16, 32, 48, 96, 144, 160, 192], 1280, 64),
        new("mobilenet-edgetpu-v2-s", 5, 64, [24, 48, 64, 128, 160, 192, 256], 1280, 64),
        new("mobilenet-edgetpu-v2-m", 5, 64, [32, 64, 80, 160, 192, 240, 320], 1344, 64),
        new("mobilenet-edgetpu-v2-l", 7, 64, [32, 64, 96, 192, 240, 256, 384], 1408, 128),
    ];

    private const string Dw = "dw", F = "fused", Fg = "fused_grouped";

    // _default_mobilenet_edgetpu_v2_topology: (op, kernel, expansion, stride) per block, per group.
    private static readonly (string Op, int K, int E, int S)[][] V2Topology =
    [
        [(F, 3, 1, 1)],
        [(F, 3, 8, 2), (Fg, 3, 4, 1)],
        [(F, 3, 8, 2), (Fg, 3, 4, 1), (F, 3, 4, 1), (Fg, 3, 4, 1)],
        [(F, 3, 8, 2), (Dw, 3, 4, 1), (Dw, 3, 4, 1), (Dw, 3, 4, 1)],
        [(Dw, 3, 8, 1), (Dw, 3, 4, 1), (Dw, 3, 4, 1), (Dw, 3, 4, 1)],
        [(Dw, 3, 8, 2), (Dw, 3, 4, 1), (Dw, 3, 4, 1), (Dw, 3, 4, 1)],
        [(Dw, 3, 8, 1)],
    ];

    /// <summary>The number of stages (block groups) of the v2 topology; they are the stages of the built-in classification space.</summary>
    public static int V2Stages => V2Topology.Length;

    /// <summary>Blocks in stage <paramref name="stage"/> of the v2 topology (blocks are named block0, block1, … across stages).</summary>
    public static int V2StageBlocks(int stage) => V2Topology[stage].Length;

    /// <param name="v">The variant.</param>
    /// <param name="resolution">Input height and width.</param>
    /// <param name="rewrite">
    /// Optionally replaces blocks: called with the stage index and the block's own spec (kind, filters, kernel,
    /// stride, expansion), its result is built instead — the block analyzer prices IBN variants in place this way.
    /// </param>
    public static Network MobileNetEdgeTpuV2(V2Variant v, int resolution, Func<int, IbnSpec, IbnSpec>? rewrite = null)
    {
        var b = new NetworkBuilder(v.Name);
        var x = b.Input(resolution, resolution, 3);
        x = b.Conv(x, v.StemFilters, v.StemKernel, 2, name: "stem");
        var index = 0;
        for (var g = 0; g < V2Topology.Length; g++)
            for (var i = 0; i < V2Topology[g].Length; i++, index++)
            {
                var (op, k, e, s) = V2Topology[g][i];
                if (v.Tiny && ((g == 2 && i is 0 or 2) || (g == 3 && i == 0))) op = Fg;
                var expanded = x.Channels * e;
                var spec = op switch
                {
                    Dw => new IbnSpec(IbnKind.Depthwise, v.Filters[g], k, s, e),
                    F => new IbnSpec(IbnKind.Fused, v.Filters[g], k, s, e),
                    // TF groups = expanded filters / filters-per-group.
                    _ => new IbnSpec(IbnKind.GroupConv, v.Filters[g], k, s, e, Groups: expanded / v.GroupFiltersPerGroup),
                };
                if (rewrite is not null) spec = rewrite(g, spec);
                x = Ibn.Build(b, x, spec, $"block{index}");
            }
        return b.Build(ClassificationHead.Build(b, x, 1001, v.Top));
    }

    private record struct EffBlock(int Repeats, int Kernel, int Stride, int Expansion, int In, int Out, bool Fused, bool Skip);

    // efficientnet_edgetpu_builder.py block strings (edgetpu.md §8).
    private static readonly EffBlock[] EfficientNetBlocks =
    [
        new(1, 3, 1, 4, 24, 24, true, false),
        new(2, 3, 2, 8, 24, 32, true, true),
        new(4, 3, 2, 8, 32, 48, true, true),
        new(5, 5, 2, 8, 48, 96, false, true),
        new(4, 5, 1, 8, 96, 144, false, true),
        new(2, 5, 2, 8, 144, 192, false, true),
    ];

    /// <summary>EfficientNet-EdgeTPU with width / depth coefficients (S 1.0/1.0 @224, M 1.0/1.1 @240, L 1.2/1.4 @300).</summary>
    public static Network EfficientNetEdgeTpu(string name, double width, double depth, int resolution)
    {
        var b = new NetworkBuilder(name);
        var x = b.Input(resolution, resolution, 3);
        int C(int c) => Channels.Round(c, width);
        x = b.Conv(x, C(32), 3, 2, name: "stem");
        var index = 0;
        foreach (var blk in EfficientNetBlocks)
        {
            var repeats = (int)Math.Ceiling(depth * blk.Repeats);
            var input = C(blk.In);
            for (var r = 0; r < repeats; r++, index++)
            {
                var spec = new IbnSpec(blk.Fused ? IbnKind.Fused : IbnKind.Depthwise, C(blk.Out), blk.Kernel,
                    r == 0 ? blk.Stride : 1, blk.Expansion, Skip: blk.Skip, ExpandedFilters: input * blk.Expansion);
                x = Ibn.Build(b, x, spec, $"block{index}");
                input = C(blk.Out);
            }
        }
        return b.Build(ClassificationHead.Build(b, x, 1001, C(1280)));
    }
}
