using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Tests.Architecture;

public class ShapeAndCountTests
{
    private static Layer In(int h, int w, int c, string name = "in") => new(name, new InputOp(new TensorShape(h, w, c)));

    private static Network Net(params Layer[] layers) => new("t", layers, layers[^1].Name);

    [Theory]
    [InlineData(224, 3, 2, Padding.Same, 112)]
    [InlineData(224, 3, 1, Padding.Same, 224)]
    [InlineData(7, 3, 2, Padding.Same, 4)]
    [InlineData(224, 7, 2, Padding.Valid, 109)]
    [InlineData(5, 3, 1, Padding.Valid, 3)]
    public void Conv_output_size_follows_tf_padding(int input, int kernel, int stride, Padding padding, int expected)
    {
        var n = Net(In(input, input, 8), new Layer("c", new Conv2DOp(16, kernel, kernel, stride, Padding: padding), "in"));
        Assert.Equal(new TensorShape(expected, expected, 16), n.ShapeOf("c"));
    }

    [Fact]
    public void Full_group_and_depthwise_conv_counts_match_the_formulas()
    {
        // 56x56x96 input, 3x3, stride 1, same: Ho·Wo·Cout·k²·(Cin/G) MACs, k²·(Cin/G)·Cout weights.
        var full = Net(In(56, 56, 96), new Layer("c", new Conv2DOp(384, 3, 3), "in")).Info("c");
        Assert.Equal(9L * 96 * 384, full.Params);
        Assert.Equal(56L * 56 * 384 * 9 * 96, full.Macs);
        Assert.Equal(384, full.BiasCount); // batch norm folds into a per-channel bias on the device...
        Assert.Equal(9L * 96 * 384 + 4 * 384, full.WeightBytesInt8); // ...stored as int32 next to int8 weights.

        var group = Net(In(56, 56, 96), new Layer("c", new Conv2DOp(384, 3, 3, Groups: 3), "in")).Info("c");
        Assert.Equal(9L * 32 * 384, group.Params);
        Assert.Equal(56L * 56 * 384 * 9 * 32, group.Macs);

        var dw = Net(In(56, 56, 96), new Layer("c", new Conv2DOp(96, 3, 3, Stride: 2, Groups: 96), "in")).Info("c");
        Assert.Equal(9L * 96, dw.Params);
        Assert.Equal(28L * 28 * 96 * 9, dw.Macs);
        Assert.Equal("depthwise", OpNames.Describe(dw.Layer.Op, dw.InputShapes[0]));
    }

    [Fact]
    public void Dense_matmul_embedding_and_norm_counts()
    {
        var dense = Net(In(1, 128, 512), new Layer("d", new DenseOp(128), "in")).Info("d");
        Assert.Equal(512L * 128 + 128, dense.Params);
        Assert.Equal(128L * 512 * 128, dense.Macs);

        var scores = Net(In(1, 64, 128, "q"), In(1, 64, 128, "k"), new Layer("s", new MatMulOp(4, true), "q", "k")).Info("s");
        Assert.Equal(new TensorShape(1, 64, 4 * 64), scores.OutputShape);
        Assert.Equal(4L * 64 * 64 * 32, scores.Macs);

        var context = Net(In(1, 64, 256, "p"), In(1, 64, 128, "v"), new Layer("c", new MatMulOp(4, false), "p", "v")).Info("c");
        Assert.Equal(new TensorShape(1, 64, 128), context.OutputShape);
        Assert.Equal(4L * 64 * 64 * 32, context.Macs);

        var tokens = new Layer("t", new InputOp(new TensorShape(1, 10, 1), InputKind.Tokens));
        var emb = Net(tokens, new Layer("e", new EmbeddingOp(1000, 64), "t")).Info("e");
        Assert.Equal(64000, emb.Params);
        Assert.Equal(new TensorShape(1, 10, 64), emb.OutputShape);

        var norm = Net(In(1, 10, 64), new Layer("n", new LayerNormOp(), "in")).Info("n");
        Assert.Equal(128, norm.Params);
    }

    [Fact]
    public void Concat_flatten_reshape_pool_and_resize_shapes()
    {
        var n = new Network("t",
        [
            In(14, 14, 32),
            new Layer("a", new Conv2DOp(16, 1, 1), "in"),
            new Layer("b", new Conv2DOp(8, 3, 3), "in"),
            new Layer("cat", new ConcatOp(), "a", "b"),
            new Layer("pool", new PoolOp(PoolKind.Max, 2, 2, Padding.Valid), "cat"),
            new Layer("up", new ResizeOp(ResizeMode.Nearest, 28, 28), "pool"),
            new Layer("gp", new GlobalPoolOp(), "up"),
            new Layer("flat", new FlattenOp(), "pool"),
            new Layer("rs", new ReshapeOp(new TensorShape(1, 49, 24)), "flat"),
        ], "gp", "rs");
        Assert.Equal(new TensorShape(14, 14, 24), n.ShapeOf("cat"));
        Assert.Equal(new TensorShape(7, 7, 24), n.ShapeOf("pool"));
        Assert.Equal(new TensorShape(28, 28, 24), n.ShapeOf("up"));
        Assert.Equal(new TensorShape(1, 1, 24), n.ShapeOf("gp"));
        Assert.Equal(new TensorShape(1, 1, 49 * 24), n.ShapeOf("flat"));
        Assert.Equal(16L * 32 + 9L * 32 * 8, n.Params);
    }

    public static TheoryData<Layer[], string, string> ImpossibleNetworks => new()
    {
        { [In(8, 8, 30), new Layer("gc", new Conv2DOp(64, 3, 3, Groups: 4), "in")], "gc", "input channels 30 are not divisible by groups 4" },
        { [In(8, 8, 32), new Layer("gc", new Conv2DOp(30, 3, 3, Groups: 4), "in")], "gc", "filters 30 are not divisible by groups 4" },
        { [In(8, 8, 32), new Layer("zero", new Conv2DOp(0, 3, 3), "in")], "zero", "filters must be positive" },
        { [In(2, 2, 3), new Layer("big", new Conv2DOp(8, 5, 5, Padding: Padding.Valid), "in")], "big", "does not fit the 2x2 input" },
        { [In(8, 8, 3), new Layer("a", new Conv2DOp(8, 3, 3), "in"), new Layer("b", new Conv2DOp(16, 3, 3), "in"), new Layer("sum", new AddOp(), "a", "b")], "sum", "equal shapes" },
        { [In(8, 8, 3), new Layer("c", new Conv2DOp(8, 3, 3), "ghost")], "c", "input 'ghost' is not defined before this layer" },
        { [In(0, 8, 3), new Layer("c", new Conv2DOp(8, 3, 3), "in")], "in", "input height must be positive" },
        { [In(8, 8, 3), new Layer("r", new ReshapeOp(new TensorShape(1, 1, 100)), "in")], "r", "cannot reshape 8x8x3" },
        { [In(8, 8, 3), new Layer("c", new Conv2DOp(8, 3, 3), "in"), new Layer("c", new Conv2DOp(8, 3, 3), "c")], "c", "duplicate layer name" },
        { [In(8, 8, 3), new Layer("dead", new Conv2DOp(8, 3, 3), "in"), new Layer("out", new Conv2DOp(8, 3, 3), "in")], "dead", "never used" },
    };

    [Theory]
    [MemberData(nameof(ImpossibleNetworks))]
    public void Impossible_networks_are_rejected_naming_the_layer(Layer[] layers, string layer, string reason)
    {
        var e = Assert.Throws<InvalidNetworkException>(() => new Network("t", layers, layers[^1].Name));
        Assert.Equal(layer, e.LayerName);
        Assert.Contains(reason, e.Message);
        Assert.StartsWith($"layer '{layer}'", e.Message);
    }

    [Fact]
    public void Unknown_output_is_rejected()
    {
        var e = Assert.Throws<InvalidNetworkException>(() => new Network("t", [In(4, 4, 3)], "nope"));
        Assert.Equal("nope", e.LayerName);
    }

    [Fact]
    public void Network_totals_are_sums_of_layers()
    {
        var n = NasCluster.Shared.Zoo.ModelZoo.Build("mobilenet-v2");
        Assert.Equal(n.Infos.Sum(i => i.Params), n.Params);
        Assert.Equal(n.Infos.Sum(i => i.Macs), n.Macs);
        Assert.Equal(n.Infos.Sum(i => i.WeightBytesInt8), n.WeightBytesInt8);
        Assert.True(n.WeightBytesFloat > 3.9 * n.WeightBytesInt8, "float weights take about 4x the int8 bytes");
    }
}
