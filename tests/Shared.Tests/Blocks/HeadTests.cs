using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;
using NasCluster.Shared.Zoo;

namespace NasCluster.Shared.Tests.Blocks;

public class HeadTests
{
    private static (NetworkBuilder B, FeatureLevels Levels, Tensor Input) Backbone(int resolution)
    {
        var b = new NetworkBuilder("bb");
        var x = b.Input(resolution, resolution, 3);
        var levels = new FeatureLevels();
        MobileNets.V2Backbone(b, x, 1.0, levels);
        return (b, levels, x);
    }

    [Fact]
    public void Bifpn_produces_every_level_with_weighted_fusion_and_repeats()
    {
        var (b, levels, _) = Backbone(256);
        var pyramid = BiFpn.Build(b, levels, new BiFpnSpec(MinLevel: 3, MaxLevel: 7, Channels: 64, Repeats: 2));
        Assert.Equal([3, 4, 5, 6, 7], pyramid.Keys.Order());
        foreach (var (level, t) in pyramid)
        {
            Assert.Equal(64, t.Channels);
            Assert.Equal(256 >> level, t.Height);
        }
        var net = b.Build(pyramid.Values.ToArray());
        // Per repeat: 4 top-down fusions + 4 bottom-up fusions = 8 weighted adds.
        Assert.Equal(16, net.Layers.Count(l => l.Op is WeightedAddOp));
        Assert.Contains(net.Layers, l => l.Op is WeightedAddOp && l.Inputs.Length == 3);
    }

    [Fact]
    public void Segmentation_head_resizes_logits_to_the_input()
    {
        var (b, levels, _) = Backbone(128);
        var pyramid = BiFpn.Build(b, levels, new BiFpnSpec(2, 6, 32, 1));
        var seg = BiFpn.SegmentationHead(b, pyramid, 2, 21, 32, 128, 128);
        Assert.Equal(new TensorShape(128, 128, 21), seg.Shape);
    }

    [Fact]
    public void Ssd_head_emits_boxes_and_classes_over_all_anchors()
    {
        var net = ModelZoo.Build("ssdlite-mobilenet-v2", 320);
        var boxes = net.ShapeOf(net.Outputs[0]);
        var classes = net.ShapeOf(net.Outputs[1]);
        // 20x20x3 + 10x10x6 + 5x5x6 + 3x3x6 + 2x2x6 + 1x1x6 anchors at 320.
        const int anchors = 20 * 20 * 3 + 10 * 10 * 6 + 5 * 5 * 6 + 3 * 3 * 6 + 2 * 2 * 6 + 1 * 6;
        Assert.Equal(new TensorShape(1, anchors, 4), boxes);
        Assert.Equal(new TensorShape(1, anchors, 91), classes);
    }

    [Fact]
    public void Mnasfpn_merge_aligns_both_inputs_to_the_target_level()
    {
        var b = new NetworkBuilder("m");
        var x = b.Input(64, 64, 3);
        var fine = b.Conv(x, 24, 3, 2);                  // 32x32
        var coarse = b.Conv(b.Conv(fine, 48, 3, 2), 96, 3, 2); // 8x8
        var merged = MnasFpn.Merge(b, fine, coarse, 16, 16, 64);
        Assert.Equal(new TensorShape(16, 16, 64), merged.Shape);
        var net = b.Build(merged);
        Assert.Contains(net.Layers, l => l.Op is PoolOp);   // fine goes down
        Assert.Contains(net.Layers, l => l.Op is ResizeOp); // coarse goes up
    }

    [Fact]
    public void Transformer_block_counts_match_mobilebert_layout()
    {
        var b = new NetworkBuilder("t");
        var tokens = b.Input(1, 128, 512);
        var y = Transformer.Block(b, tokens, new TransformerSpec(512, 128, 4, 4, 512), "layer");
        var n = b.Build(y);
        long D(int i, int o) => (long)i * o + o;
        var expected = D(512, 128) * 2 + 2 * 256   // bottlenecks + norms
                       + D(128, 128) * 2 + D(512, 128)  // q, k, v
                       + D(128, 128) + 256          // attention output + norm
                       + 4 * (D(128, 512) + D(512, 128) + 256) // stacked FFNs
                       + D(128, 512) + 1024;        // output bottleneck + norm
        Assert.Equal(expected, n.Params);
        Assert.Equal(2, n.Layers.Count(l => l.Op is MatMulOp));
        Assert.Equal(new TensorShape(1, 128, 512), y.Shape);
    }
}
