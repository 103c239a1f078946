using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.Tests.Blocks;

public class IbnTests
{
    private static (Network Net, List<LayerInfo> Block) Build(IbnSpec spec, int h = 28, int c = 96)
    {
        var b = new NetworkBuilder("ibn");
        var x = b.Input(h, h, c);
        var y = Ibn.Build(b, x, spec, "blk");
        var n = b.Build(y);
        return (n, n.Infos.Where(i => i.Layer.Name.StartsWith("blk/")).ToList());
    }

    private static string Kinds(IEnumerable<LayerInfo> layers) =>
        string.Join(",", layers.Select(i => OpNames.Describe(i.Layer.Op, i.InputShapes[0])));

    [Fact]
    public void Depthwise_ibn_is_expand_depthwise_project_with_skip()
    {
        var (n, block) = Build(new IbnSpec(IbnKind.Depthwise, 96, 3, 1, 4));
        Assert.Equal("conv1x1,depthwise,conv1x1,add", Kinds(block));
        Assert.Equal(96L * 384 + 9 * 384 + 384L * 96, n.Params);
        Assert.Equal(ActivationKind.None, ((Conv2DOp)block[2].Layer.Op).Activation); // linear bottleneck
    }

    [Fact]
    public void Fused_ibn_is_a_full_kxk_expansion_then_project()
    {
        var (n, block) = Build(new IbnSpec(IbnKind.Fused, 96, 3, 1, 4));
        Assert.Equal("conv,conv1x1,add", Kinds(block));
        Assert.Equal(9L * 96 * 384 + 384L * 96, n.Params);
    }

    [Theory]
    [InlineData(32, 3)]   // 96 input channels, 32 per group -> 3 groups
    [InlineData(48, 2)]
    [InlineData(64, 1)]   // no divisor of 96 gives >= 64 per group except 1 group (96)
    [InlineData(16, 6)]
    [InlineData(200, 1)]  // wider than the input: a full conv
    public void Gc_ibn_group_size_is_the_minimum_input_channels_per_group(int groupSize, int groups)
    {
        var (_, block) = Build(new IbnSpec(IbnKind.GroupConv, 96, 3, 1, 4, groupSize));
        var conv = (Conv2DOp)block[0].Layer.Op;
        Assert.Equal(groups, conv.Groups);
        Assert.Equal(384, conv.Filters);
        Assert.True(96 / conv.Groups >= Math.Min(groupSize, 96));
    }

    [Fact]
    public void Gc_ibn_does_the_whole_expansion_in_the_group_conv()
    {
        var (n, block) = Build(new IbnSpec(IbnKind.GroupConv, 96, 3, 1, 4, GroupSize: 32));
        Assert.Equal("group_conv,conv1x1,add", Kinds(block));
        Assert.Equal(9L * 32 * 384 + 384L * 96, n.Params);
    }

    [Fact]
    public void Generalized_gc_ibn_splits_expansion_between_pointwise_and_group_conv()
    {
        var (n, block) = Build(new IbnSpec(IbnKind.GeneralizedGroupConv, 96, 3, 1, Expansion: 4, GroupSize: 64, ExpansionPointwise: 2));
        Assert.Equal("conv1x1,group_conv,conv1x1,add", Kinds(block));
        var group = (Conv2DOp)block[1].Layer.Op;
        Assert.Equal(192, block[1].InputShapes[0].Channels); // e1 = 2
        Assert.Equal(384, group.Filters);                      // e1·e2 = 4
        Assert.Equal(3, group.Groups);                         // 192 / 64
        Assert.Equal(96L * 192 + 9L * 64 * 384 + 384L * 96, n.Params);
        Assert.Throws<InvalidNetworkException>(() => Build(new IbnSpec(IbnKind.GeneralizedGroupConv, 96, 3, 1, 4, 64, ExpansionPointwise: 3)));
    }

    [Theory]
    [InlineData(1, 96, true, true)]
    [InlineData(2, 96, true, false)]
    [InlineData(1, 128, true, false)]
    [InlineData(1, 96, false, false)]
    public void Residual_only_when_stride_one_and_channels_match(int stride, int filters, bool skip, bool expectAdd)
    {
        foreach (var kind in Enum.GetValues<IbnKind>())
        {
            var (_, block) = Build(new IbnSpec(kind, filters, 3, stride, 4, 32, ExpansionPointwise: 2, Skip: skip));
            Assert.Equal(expectAdd, block.Any(l => l.Layer.Op is AddOp));
        }
    }

    [Fact]
    public void Blocks_use_relu_only_no_squeeze_excite_or_swish()
    {
        foreach (var kind in Enum.GetValues<IbnKind>())
        {
            var (_, block) = Build(new IbnSpec(kind, 96, 5, 2, 8, 32, ExpansionPointwise: 2));
            Assert.DoesNotContain(block, l => l.Layer.Op is MultiplyOp or GlobalPoolOp);
            Assert.All(block.Select(l => l.Layer.Op).OfType<Conv2DOp>(), c => Assert.True(c.Activation is ActivationKind.Relu or ActivationKind.None));
        }
    }

    [Fact]
    public void Expansion_one_drops_the_expansion()
    {
        Assert.Equal("depthwise,conv1x1", Kinds(Build(new IbnSpec(IbnKind.Depthwise, 16, 3, 1, 1)).Block));
        Assert.Equal("conv1x1", Kinds(Build(new IbnSpec(IbnKind.Fused, 16, 3, 1, 1)).Block));
    }
}
