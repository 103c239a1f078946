using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.Zoo;

/// <summary>MobileNet v1 and v2 as in the TF-slim reference (ReLU6, 1001 classes).</summary>
public static class MobileNets
{
    public static Network V1(int resolution, double multiplier = 1.0, int classes = 1001)
    {
        var b = new NetworkBuilder("mobilenet-v1");
        var x = b.Input(resolution, resolution, 3);
        int C(int c) => Channels.Round(c, multiplier);
        x = b.Conv(x, C(32), 3, 2, activation: ActivationKind.Relu6, name: "stem");
        (int Filters, int Stride)[] blocks =
        [
            (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
            (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
        ];
        for (var i = 0; i < blocks.Length; i++)
        {
            using var _ = b.Scope($"block{i}");
            x = b.Depthwise(x, 3, blocks[i].Stride, ActivationKind.Relu6);
            x = b.Conv(x, C(blocks[i].Filters), 1, activation: ActivationKind.Relu6, name: "pointwise");
        }
        var logits = ClassificationHead.Build(b, x, classes, null);
        return b.Build(logits);
    }

    /// <summary>The MobileNetV2 inverted-residual table (expansion, filters, repeats, stride).</summary>
    public static readonly (int T, int C, int N, int S)[] V2Table =
        [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

    public static Network V2(int resolution, double multiplier = 1.0, int classes = 1001)
    {
        var b = new NetworkBuilder("mobilenet-v2");
        var x = b.Input(resolution, resolution, 3);
        x = V2Backbone(b, x, multiplier, levels: null);
        var top = multiplier > 1.0 ? Channels.Round(1280, multiplier) : 1280;
        var logits = ClassificationHead.Build(b, x, classes, top, ActivationKind.Relu6);
        return b.Build(logits);
    }

    /// <summary>
    /// The MobileNetV2 feature extractor up to its last 320-filter block. <paramref name="dilateFrom"/>
    /// replaces the strides of stages at and after that stage index by dilation (DeepLab's output
    /// stride 16); <paramref name="expansionTap"/> receives the expansion output of the block with that
    /// index (SSDLite reads block 13's 576-channel expansion).
    /// </summary>
    public static Tensor V2Backbone(NetworkBuilder b, Tensor x, double multiplier, FeatureLevels? levels,
        int dilateFrom = int.MaxValue, int expansionTapIndex = -1, Action<Tensor>? expansionTap = null)
    {
        var inputHeight = x.Height;
        x = b.Conv(x, Channels.Round(32, multiplier), 3, 2, activation: ActivationKind.Relu6, name: "stem");
        levels?.Record(x, inputHeight);
        var index = 0;
        var dilation = 1;
        for (var s = 0; s < V2Table.Length; s++)
        {
            var (t, c, n, stride) = V2Table[s];
            for (var i = 0; i < n; i++, index++)
            {
                var st = i == 0 ? stride : 1;
                if (s >= dilateFrom && st > 1)
                {
                    dilation *= st;
                    st = 1;
                }
                var filters = Channels.Round(c, multiplier);
                if (dilation == 1 && index != expansionTapIndex)
                {
                    x = Ibn.Build(b, x, new IbnSpec(IbnKind.Depthwise, filters, 3, st, t, Activation: ActivationKind.Relu6), $"block{index}");
                }
                else
                {
                    // Spelled out: the dilated and the tapped blocks need access inside the block.
                    using var _ = b.Scope($"block{index}");
                    var input = x;
                    var h = t == 1 ? x : b.Conv(x, x.Channels * t, 1, activation: ActivationKind.Relu6, name: "expand");
                    if (index == expansionTapIndex) expansionTap?.Invoke(h);
                    h = b.Depthwise(h, 3, st, ActivationKind.Relu6, dilation: dilation);
                    h = b.Conv(h, filters, 1, activation: ActivationKind.None, name: "project");
                    x = st == 1 && input.Channels == filters ? b.Sum(ActivationKind.None, "add", h, input) : h;
                }
                levels?.Record(x, inputHeight);
            }
        }
        return x;
    }
}
