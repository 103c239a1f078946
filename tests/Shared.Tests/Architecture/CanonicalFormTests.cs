using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.Tests.Architecture;

public class CanonicalFormTests
{
    /// <summary>An inception-like module: four branches, emitted in the given order, concatenated.</summary>
    private static Network Branchy(int[] order, string prefix = "", int[]? concatOrder = null)
    {
        var b = new NetworkBuilder("branchy");
        var x = b.Input(28, 28, 64, prefix + "image");
        var branches = new Tensor[4];
        foreach (var i in order)
            branches[i] = i switch
            {
                0 => b.Conv(x, 32, 1, name: prefix + "one"),
                1 => b.Conv(b.Conv(x, 48, 1, name: prefix + "r3"), 64, 3, name: prefix + "three"),
                2 => b.Conv(b.Conv(x, 8, 1, name: prefix + "r5"), 16, 5, name: prefix + "five"),
                _ => b.Conv(b.Pool(x, PoolKind.Max, 3, 1, name: prefix + "mp"), 16, 1, name: prefix + "pp"),
            };
        var cat = b.Concat(prefix + "cat", (concatOrder ?? [0, 1, 2, 3]).Select(i => branches[i]).ToArray());
        return b.Build(b.Dense(b.GlobalPool(cat), 10, name: prefix + "logits"));
    }

    [Fact]
    public void Hash_ignores_layer_names()
    {
        Assert.Equal(Branchy([0, 1, 2, 3]).Hash, Branchy([0, 1, 2, 3], prefix: "renamed_").Hash);
        Assert.Equal(Branchy([0, 1, 2, 3]).Hash, Branchy([0, 1, 2, 3]).Rename("other").Hash);
    }

    [Fact]
    public void Hash_ignores_emission_order_of_independent_layers()
    {
        var a = Branchy([0, 1, 2, 3]);
        var b = Branchy([3, 2, 1, 0]);
        var c = Branchy([2, 0, 3, 1]);
        Assert.NotEqual(a.Layers.Select(l => l.Name), b.Layers.Select(l => l.Name)); // really emitted differently
        Assert.Equal(a.Hash, b.Hash);
        Assert.Equal(a.Hash, c.Hash);
        Assert.Equal(a.Canonical, c.Canonical);
    }

    [Fact]
    public void Hash_ignores_the_order_of_commutative_inputs()
    {
        Assert.Equal(Branchy([0, 1, 2, 3]).Hash, Branchy([0, 1, 2, 3], concatOrder: [3, 1, 0, 2]).Hash);
        static Network Residual(bool swap)
        {
            var b = new NetworkBuilder("r");
            var x = b.Input(8, 8, 16);
            var y = b.Conv(x, 16, 3);
            return b.Build(swap ? b.Sum(y, x) : b.Sum(x, y));
        }
        Assert.Equal(Residual(false).Hash, Residual(true).Hash);
    }

    [Fact]
    public void Hash_changes_with_structure()
    {
        var baseline = ZooNet(IbnKind.Depthwise, kernel: 3);
        Assert.NotEqual(baseline.Hash, ZooNet(IbnKind.Depthwise, kernel: 5).Hash);
        Assert.NotEqual(baseline.Hash, ZooNet(IbnKind.Fused, kernel: 3).Hash);
        Assert.NotEqual(baseline.Hash, ZooNet(IbnKind.Depthwise, kernel: 3, stride: 2).Hash);
        Assert.Matches("^[0-9a-f]{64}$", baseline.Hash);
    }

    [Fact]
    public void A_shared_branch_differs_from_two_identical_branches()
    {
        // concat(conv(x), conv(x)) with two convs has twice the weights of concat(y, y) with one conv.
        var b1 = new NetworkBuilder("two");
        var x1 = b1.Input(8, 8, 8);
        var two = b1.Build(b1.Concat(null, b1.Conv(x1, 8, 3), b1.Conv(x1, 8, 3)));
        var b2 = new NetworkBuilder("one");
        var x2 = b2.Input(8, 8, 8);
        var y2 = b2.Conv(x2, 8, 3);
        var one = b2.Build(b2.Concat(null, y2, y2));
        Assert.NotEqual(two.Params, one.Params);
        Assert.NotEqual(two.Hash, one.Hash);
    }

    [Fact]
    public void Output_order_is_part_of_the_architecture()
    {
        var b = new NetworkBuilder("o");
        var x = b.Input(8, 8, 8);
        var p = b.Conv(x, 4, 1);
        var q = b.Conv(x, 6, 1);
        var n1 = new Network("o", b.Build(p, q).Layers, "conv", "conv_1");
        var n2 = new Network("o", n1.Layers, "conv_1", "conv");
        Assert.NotEqual(n1.Hash, n2.Hash);
    }

    private static Network ZooNet(IbnKind kind, int kernel, int stride = 1)
    {
        var b = new NetworkBuilder("n");
        var x = b.Input(32, 32, 3);
        x = b.Conv(x, 16, 3, 2);
        x = Ibn.Build(b, x, new IbnSpec(kind, 16, kernel, stride, 4), "block");
        return b.Build(x);
    }
}
