using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Blocks;

/// <summary>
/// MnasFPN-style cross-level connections for detection heads: a head block reads two earlier feature
/// maps from any levels, brings each to the block's target level (nearest upsampling, or stride-2
/// max pooling going down) and width (1×1 conv), adds them, and refines the sum with its own layers.
/// </summary>
public static class MnasFpn
{
    /// <summary>Resizes <paramref name="x"/> from its level to <paramref name="targetHeight"/> × <paramref name="targetWidth"/> and <paramref name="channels"/> channels.</summary>
    public static Tensor Align(NetworkBuilder b, Tensor x, int targetHeight, int targetWidth, int channels, string name)
    {
        using var _ = b.Scope(name);
        while (x.Height > targetHeight)
        {
            var pooled = b.Pool(x, PoolKind.Max, 3, 2, name: "down");
            x = pooled.Height < targetHeight ? b.Resize(pooled, targetHeight, targetWidth, ResizeMode.Nearest, "fit") : pooled;
        }
        if (x.Height < targetHeight || x.Width != targetWidth)
            x = b.Resize(x, targetHeight, targetWidth, ResizeMode.Nearest, "up");
        if (x.Channels != channels)
            x = b.Conv(x, channels, 1, activation: ActivationKind.None, name: "proj");
        return x;
    }

    /// <summary>The cross-level merge: both inputs aligned to the target, then added with a ReLU.</summary>
    public static Tensor Merge(NetworkBuilder b, Tensor first, Tensor second, int targetHeight, int targetWidth, int channels)
    {
        var a = Align(b, first, targetHeight, targetWidth, channels, "in0");
        var c = Align(b, second, targetHeight, targetWidth, channels, "in1");
        return b.Sum(ActivationKind.Relu, "merge", a, c);
    }
}

/// <summary>
/// SSD / SSDLite box and class predictors: per feature map a depthwise 3×3 + 1×1 conv for box offsets
/// (anchors × 4) and for class logits (anchors × classes), reshaped and concatenated over the maps into
/// two outputs, boxes [1, N, 4] and classes [1, N, classes].
/// </summary>
public static class SsdHead
{
    public static (Tensor Boxes, Tensor Classes) Build(NetworkBuilder b, IReadOnlyList<Tensor> features,
        IReadOnlyList<int> anchors, int classes)
    {
        if (features.Count != anchors.Count)
            throw new InvalidNetworkException("ssd_head", $"{features.Count} feature maps but {anchors.Count} anchor counts");
        using var _ = b.Scope("ssd_head");
        var boxes = new List<Tensor>();
        var logits = new List<Tensor>();
        for (var i = 0; i < features.Count; i++)
        {
            boxes.Add(Predictor(b, features[i], anchors[i] * 4, $"box{i}"));
            logits.Add(Predictor(b, features[i], anchors[i] * classes, $"class{i}"));
        }
        return (Join(b, boxes, 4, "boxes"), Join(b, logits, classes, "classes"));
    }

    // Predictions are flattened to [1, 1, H·W·k] so that concatenating on the channel axis concatenates
    // anchors; the joined tensor is viewed as [1, N, k] at the end.
    private static Tensor Predictor(NetworkBuilder b, Tensor f, int outputs, string name)
    {
        using var _ = b.Scope(name);
        var dw = b.Depthwise(f, 3, activation: ActivationKind.Relu6);
        var conv = b.Conv(dw, outputs, 1, activation: ActivationKind.None, name: "pred", batchNorm: false, bias: true);
        return b.Reshape(conv, new TensorShape(1, 1, (int)conv.Shape.Elements), "flat");
    }

    private static Tensor Join(NetworkBuilder b, List<Tensor> parts, int k, string name)
    {
        var joined = parts.Count == 1 ? parts[0] : b.Concat(name + "_concat", parts.ToArray());
        return b.Reshape(joined, new TensorShape(1, joined.Channels / k, k), name);
    }
}
