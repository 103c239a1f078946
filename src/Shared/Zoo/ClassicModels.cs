using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.Zoo;

/// <summary>
/// Server-class CNNs kept for contrast: they show what an Edge TPU does with networks that were not
/// designed for it (huge parameter counts that stream from off-chip, wide activations).
/// Layouts follow the torchvision references, 1000 classes.
/// </summary>
public static class ClassicModels
{
    /// <summary>ResNet v1.5 (stride on the 3×3 conv of the bottleneck): 50 → [3,4,6,3], 152 → [3,8,36,3].</summary>
    public static Network ResNet(string name, int[] depths, int resolution)
    {
        var b = new NetworkBuilder(name);
        var x = b.Input(resolution, resolution, 3);
        x = b.Conv(x, 64, 7, 2, name: "stem");
        x = b.Pool(x, PoolKind.Max, 3, 2, name: "stem_pool");
        var width = 64;
        for (var stage = 0; stage < depths.Length; stage++, width *= 2)
            for (var i = 0; i < depths[stage]; i++)
            {
                using var _ = b.Scope($"stage{stage + 1}/block{i}");
                var stride = i == 0 && stage > 0 ? 2 : 1;
                var shortcut = x;
                var h = b.Conv(x, width, 1, name: "reduce");
                h = b.Conv(h, width, 3, stride, name: "conv");
                h = b.Conv(h, width * 4, 1, activation: ActivationKind.None, name: "expand");
                if (i == 0) shortcut = b.Conv(x, width * 4, 1, stride, activation: ActivationKind.None, name: "downsample");
                x = b.Sum(ActivationKind.Relu, "add", h, shortcut);
            }
        return b.Build(ClassificationHead.Build(b, x, 1000, null));
    }

    /// <summary>VGG with 3×3 convs (bias, no batch norm), 2×2 max pools and the 4096-4096-1000 classifier.</summary>
    public static Network Vgg(string name, int[] convsPerStage, int resolution)
    {
        var b = new NetworkBuilder(name);
        var x = b.Input(resolution, resolution, 3);
        int[] widths = [64, 128, 256, 512, 512];
        for (var s = 0; s < convsPerStage.Length; s++)
        {
            using var _ = b.Scope($"stage{s + 1}");
            for (var i = 0; i < convsPerStage[s]; i++)
                x = b.Conv(x, widths[s], 3, batchNorm: false, bias: true, name: $"conv{i + 1}");
            x = b.Pool(x, PoolKind.Max, 2, 2, Padding.Valid, "pool");
        }
        using (b.Scope("classifier"))
        {
            x = b.Flatten(x);
            x = b.Dense(x, 4096, ActivationKind.Relu, "fc1");
            x = b.Dense(x, 4096, ActivationKind.Relu, "fc2");
            x = b.Dense(x, 1000, name: "logits");
        }
        return b.Build(x);
    }

    /// <summary>SqueezeNet 1.0 (Iandola et al.): fire modules, no dense layer, biases, no batch norm.</summary>
    public static Network SqueezeNet(int resolution)
    {
        var b = new NetworkBuilder("squeezenet");
        var x = b.Input(resolution, resolution, 3);
        Tensor Conv(Tensor t, int f, int k, int s = 1, string? n = null, Padding p = Padding.Same) =>
            b.Conv(t, f, k, s, batchNorm: false, bias: true, name: n, padding: p);
        Tensor Fire(Tensor t, int squeeze, int expand, string n)
        {
            using var _ = b.Scope(n);
            var sq = Conv(t, squeeze, 1, n: "squeeze");
            return b.Concat("concat", Conv(sq, expand, 1, n: "expand1x1"), Conv(sq, expand, 3, n: "expand3x3"));
        }
        x = Conv(x, 96, 7, 2, "conv1", Padding.Valid);
        x = b.Pool(x, PoolKind.Max, 3, 2, Padding.Valid, "pool1");
        x = Fire(x, 16, 64, "fire2");
        x = Fire(x, 16, 64, "fire3");
        x = Fire(x, 32, 128, "fire4");
        x = b.Pool(x, PoolKind.Max, 3, 2, Padding.Valid, "pool4");
        x = Fire(x, 32, 128, "fire5");
        x = Fire(x, 48, 192, "fire6");
        x = Fire(x, 48, 192, "fire7");
        x = Fire(x, 64, 256, "fire8");
        x = b.Pool(x, PoolKind.Max, 3, 2, Padding.Valid, "pool8");
        x = Fire(x, 64, 256, "fire9");
        x = Conv(x, 1000, 1, n: "conv10");
        return b.Build(b.GlobalPool(x, name: "logits"));
    }

    /// <summary>Inception v1 / GoogLeNet (Szegedy et al. 2015, 5×5 branches, no auxiliary heads), batch-normed convs.</summary>
    public static Network InceptionV1(int resolution)
    {
        var b = new NetworkBuilder("inception-v1");
        var x = b.Input(resolution, resolution, 3);
        x = b.Conv(x, 64, 7, 2, name: "conv1");
        x = b.Pool(x, PoolKind.Max, 3, 2, name: "pool1");
        x = b.Conv(x, 64, 1, name: "conv2_reduce");
        x = b.Conv(x, 192, 3, name: "conv2");
        x = b.Pool(x, PoolKind.Max, 3, 2, name: "pool2");
        Tensor Inception(Tensor t, string n, int c1, int r3, int c3, int r5, int c5, int pp)
        {
            using var _ = b.Scope(n);
            var a = b.Conv(t, c1, 1, name: "b1");
            var m = b.Conv(b.Conv(t, r3, 1, name: "b3_reduce"), c3, 3, name: "b3");
            var f = b.Conv(b.Conv(t, r5, 1, name: "b5_reduce"), c5, 5, name: "b5");
            var p = b.Conv(b.Pool(t, PoolKind.Max, 3, 1, name: "pool"), pp, 1, name: "pool_proj");
            return b.Concat("concat", a, m, f, p);
        }
        x = Inception(x, "3a", 64, 96, 128, 16, 32, 32);
        x = Inception(x, "3b", 128, 128, 192, 32, 96, 64);
        x = b.Pool(x, PoolKind.Max, 3, 2, name: "pool3");
        x = Inception(x, "4a", 192, 96, 208, 16, 48, 64);
        x = Inception(x, "4b", 160, 112, 224, 24, 64, 64);
        x = Inception(x, "4c", 128, 128, 256, 24, 64, 64);
        x = Inception(x, "4d", 112, 144, 288, 32, 64, 64);
        x = Inception(x, "4e", 256, 160, 320, 32, 128, 128);
        x = b.Pool(x, PoolKind.Max, 3, 2, name: "pool4");
        x = Inception(x, "5a", 256, 160, 320, 32, 128, 128);
        x = Inception(x, "5b", 384, 192, 384, 48, 128, 128);
        return b.Build(ClassificationHead.Build(b, x, 1000, null));
    }

    /// <summary>DenseNet-121: growth 32, blocks [6, 12, 24, 16], bottleneck 4×growth, compression 0.5.</summary>
    public static Network DenseNet121(int resolution)
    {
        const int growth = 32;
        int[] blocks = [6, 12, 24, 16];
        var b = new NetworkBuilder("densenet-121");
        var x = b.Input(resolution, resolution, 3);
        x = b.Conv(x, 64, 7, 2, name: "conv0");
        x = b.Pool(x, PoolKind.Max, 3, 2, name: "pool0");
        for (var i = 0; i < blocks.Length; i++)
        {
            for (var j = 0; j < blocks[i]; j++)
            {
                using var _ = b.Scope($"dense{i + 1}/layer{j + 1}");
                var h = b.Conv(x, 4 * growth, 1, name: "bottleneck");
                h = b.Conv(h, growth, 3, name: "conv");
                x = b.Concat("concat", x, h);
            }
            if (i + 1 < blocks.Length)
            {
                using var _ = b.Scope($"transition{i + 1}");
                x = b.Conv(x, x.Channels / 2, 1, name: "conv");
                x = b.Pool(x, PoolKind.Average, 2, 2, Padding.Valid, "pool");
            }
        }
        return b.Build(ClassificationHead.Build(b, x, 1000, null));
    }
}
