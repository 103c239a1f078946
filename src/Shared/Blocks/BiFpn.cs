using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Blocks;

/// <summary>BiFPN settings: levels [MinLevel, MaxLevel], channel width and number of repeated layers.</summary>
public sealed record BiFpnSpec(int MinLevel = 3, int MaxLevel = 7, int Channels = 64, int Repeats = 3, int SeparableKernel = 3);

/// <summary>
/// EfficientDet-style bidirectional FPN with fast normalised (weighted) fusion: a top-down pass then a
/// bottom-up pass per repeat, each fusion followed by a depthwise-separable conv. Levels above the
/// backbone's deepest are made by 1×1 conv + stride-2 max pooling. Used by the Autoseg segmentation
/// head, which reads the finest level.
/// </summary>
public static class BiFpn
{
    public static IReadOnlyDictionary<int, Tensor> Build(NetworkBuilder b, FeatureLevels backbone, BiFpnSpec spec)
    {
        if (spec.MinLevel < 1 || spec.MaxLevel < spec.MinLevel)
            throw new InvalidNetworkException("bifpn", $"invalid level range {spec.MinLevel}..{spec.MaxLevel}");
        if (spec.Repeats < 1) throw new InvalidNetworkException("bifpn", $"repeats must be at least 1 (got {spec.Repeats})");
        using var _ = b.Scope("bifpn");
        var p = new Dictionary<int, Tensor>();
        for (var level = spec.MinLevel; level <= spec.MaxLevel; level++)
        {
            if (backbone.Has(level))
            {
                p[level] = b.Conv(backbone[level], spec.Channels, 1, activation: ActivationKind.None, name: $"lateral{level}");
            }
            else
            {
                var below = level - 1 >= spec.MinLevel ? p[level - 1] : backbone[level - 1];
                if (below.Channels != spec.Channels)
                    below = b.Conv(below, spec.Channels, 1, activation: ActivationKind.None, name: $"lateral{level}");
                p[level] = b.Pool(below, PoolKind.Max, 3, 2, name: $"down{level}");
            }
        }

        for (var r = 0; r < spec.Repeats; r++)
        {
            using var __ = b.Scope($"layer{r}");
            var td = new Dictionary<int, Tensor> { [spec.MaxLevel] = p[spec.MaxLevel] };
            for (var level = spec.MaxLevel - 1; level >= spec.MinLevel; level--)
            {
                var up = b.Resize(td[level + 1], p[level].Height, p[level].Width, ResizeMode.Nearest, $"td{level}/up");
                td[level] = Fuse(b, spec, $"td{level}", p[level], up);
            }
            var output = new Dictionary<int, Tensor> { [spec.MinLevel] = td[spec.MinLevel] };
            for (var level = spec.MinLevel + 1; level <= spec.MaxLevel; level++)
            {
                var down = b.Pool(output[level - 1], PoolKind.Max, 3, 2, name: $"out{level}/down");
                if (down.Shape != p[level].Shape)
                    down = b.Resize(down, p[level].Height, p[level].Width, ResizeMode.Nearest, $"out{level}/align");
                output[level] = level < spec.MaxLevel
                    ? Fuse(b, spec, $"out{level}", p[level], td[level], down)
                    : Fuse(b, spec, $"out{level}", p[level], down);
            }
            p = output;
        }
        return p;
    }

    private static Tensor Fuse(NetworkBuilder b, BiFpnSpec spec, string name, params Tensor[] inputs)
    {
        using var _ = b.Scope(name);
        var fused = b.WeightedSum(ActivationKind.Relu, "fuse", inputs);
        var dw = b.Depthwise(fused, spec.SeparableKernel, activation: ActivationKind.None);
        return b.Conv(dw, spec.Channels, 1, activation: ActivationKind.Relu, name: "pointwise");
    }

    /// <summary>
    /// Segmentation head on the finest BiFPN level: 3×3 conv, class logits, bilinear resize to the
    /// input resolution (the resize is activation-heavy and costed like on the device).
    /// </summary>
    public static Tensor SegmentationHead(NetworkBuilder b, IReadOnlyDictionary<int, Tensor> levels, int minLevel,
        int classes, int channels, int inputHeight, int inputWidth)
    {
        using var _ = b.Scope("seg_head");
        var x = b.Conv(levels[minLevel], channels, 3, activation: ActivationKind.Relu, name: "conv");
        x = b.Conv(x, classes, 1, activation: ActivationKind.None, name: "logits", batchNorm: false, bias: true);
        return b.Resize(x, inputHeight, inputWidth, ResizeMode.Bilinear, "upsample");
    }
}
