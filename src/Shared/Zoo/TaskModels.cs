using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.Zoo;

/// <summary>Detection, segmentation and NLP reference models on mobile backbones.</summary>
public static class TaskModels
{
    /// <summary>
    /// SSDLite with a MobileNetV2 backbone (TF Object Detection API): feature maps from block 13's
    /// 576-channel expansion (stride 16) and the 1280-channel top conv (stride 32), four extra
    /// depthwise-separable stride-2 layers (512, 256, 256, 128), 3 then 6 anchors per cell, 91 classes.
    /// </summary>
    public static Network SsdLiteMobileNetV2(int resolution)
    {
        var b = new NetworkBuilder("ssdlite-mobilenet-v2");
        var x = b.Input(resolution, resolution, 3);
        Tensor? c4 = null;
        x = MobileNets.V2Backbone(b, x, 1.0, null, expansionTapIndex: 13, expansionTap: t => c4 = t);
        var c5 = b.Conv(x, 1280, 1, activation: ActivationKind.Relu6, name: "top");
        var features = new List<Tensor> { c4!.Value, c5 };
        var f = c5;
        int[] extra = [512, 256, 256, 128];
        for (var i = 0; i < extra.Length; i++)
        {
            using var _ = b.Scope($"extra{i}");
            f = b.Conv(f, extra[i] / 2, 1, activation: ActivationKind.Relu6, name: "reduce");
            f = b.Depthwise(f, 3, 2, ActivationKind.Relu6);
            f = b.Conv(f, extra[i], 1, activation: ActivationKind.Relu6, name: "pointwise");
            features.Add(f);
        }
        var (boxes, classes) = SsdHead.Build(b, features, [3, 6, 6, 6, 6, 6], 91);
        return b.Build(boxes, classes);
    }

    /// <summary>
    /// DeepLabV3+ on MobileNetV2 at output stride 16 (the last stride dilated), for ADE20K's 32 classes:
    /// ASPP reduced to a 1×1 branch and image pooling (256 channels), a decoder fusing the stride-4
    /// features (48 channels) through two depthwise-separable 3×3 convs, logits resized to the input.
    /// </summary>
    public static Network DeepLabV3PlusMobileNetV2(int resolution, int classes = 32)
    {
        var b = new NetworkBuilder("deeplabv3plus-mobilenet-v2");
        var input = b.Input(resolution, resolution, 3);
        var levels = new FeatureLevels();
        var x = MobileNets.V2Backbone(b, input, 1.0, levels, dilateFrom: 5);
        var lowLevel = levels[2];
        Tensor aspp;
        using (b.Scope("aspp"))
        {
            var branch = b.Conv(x, 256, 1, name: "conv1x1");
            var pooled = b.Conv(b.GlobalPool(x, name: "image_pool"), 256, 1, name: "pool_conv");
            pooled = b.Resize(pooled, x.Height, x.Width, ResizeMode.Bilinear, "pool_upsample");
            aspp = b.Conv(b.Concat("concat", branch, pooled), 256, 1, name: "project");
        }
        using (b.Scope("decoder"))
        {
            var low = b.Conv(lowLevel, 48, 1, name: "low_level");
            var up = b.Resize(aspp, low.Height, low.Width, ResizeMode.Bilinear, "upsample");
            var h = b.Concat("concat", up, low);
            for (var i = 0; i < 2; i++)
            {
                h = b.Depthwise(h, 3, name: $"separable{i}/depthwise");
                h = b.Conv(h, 256, 1, name: $"separable{i}/pointwise");
            }
            h = b.Conv(h, classes, 1, activation: ActivationKind.None, batchNorm: false, bias: true, name: "logits");
            x = b.Resize(h, resolution, resolution, ResizeMode.Bilinear, "output");
        }
        return b.Build(x);
    }

    /// <summary>
    /// MobileBERT (Sun et al. 2020): 24 bottleneck transformer layers (hidden 512, bottleneck 128,
    /// 4 heads, 4 stacked FFNs of 512), trigram embeddings from a 128-wide table over a 30,522-token
    /// vocabulary, and a SQuAD span head; <paramref name="sequenceLength"/> plays the role of resolution.
    /// </summary>
    public static Network MobileBert(int sequenceLength, int layers = 24)
    {
        var b = new NetworkBuilder("mobilebert");
        var spec = new TransformerSpec();
        var x = Transformer.Embeddings(b, sequenceLength, 30522, 128, spec.Hidden);
        for (var i = 0; i < layers; i++) x = Transformer.Block(b, x, spec, $"layer{i}");
        var logits = b.Dense(x, 2, name: "squad_logits");
        return b.Build(logits);
    }
}
