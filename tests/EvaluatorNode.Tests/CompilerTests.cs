using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Tests;

public class CompilerTests
{
    private static LayerPlan PlanOf(Network n, string layer, HardwareConfig? h = null) =>
        EdgeTpuCompiler.Compile(n, h ?? Probe.Pixel6).Plans.Single(p => p.Name == layer);

    [Fact]
    public void Each_layer_takes_the_cheaper_of_the_spatial_and_channel_split()
    {
        var h = Probe.Pixel6;
        var seen = new HashSet<Mapping>();
        foreach (var (size, cin, cout) in new[] { (112, 32, 64), (28, 96, 384), (7, 1024, 1024), (1, 1280, 1001), (14, 192, 48), (2, 512, 4096) })
        {
            var info = Probe.LayerNet(size, cin, new Conv2DOp(cout, 1, 1)).Info("layer");
            var options = EdgeTpuCompiler.MappingOptions(info, h, cached: true, activationReserve: long.MaxValue);
            Assert.Equal([Mapping.SpatialSplit, Mapping.ChannelSplit], options.Select(o => o.Mapping));
            var chosen = EdgeTpuCompiler.Plan(info, h, cached: true, activationReserve: long.MaxValue);
            Assert.Equal(options.Min(o => LayerCycles.Analytical(o, h).Total), LayerCycles.Analytical(chosen, h).Total);
            seen.Add(chosen.Mapping);
        }
        Assert.Equal(2, seen.Count); // both mappings win somewhere
        // Large images split spatially; a tiny map with many output channels splits channels.
        Assert.Equal(Mapping.SpatialSplit, PlanOf(Probe.LayerNet(112, 32, new Conv2DOp(64, 3, 3)), "layer").Mapping);
        Assert.Equal(Mapping.ChannelSplit, PlanOf(Probe.LayerNet(2, 512, new Conv2DOp(4096, 1, 1)), "layer").Mapping);
    }

    [Fact]
    public void Depthwise_packs_one_channel_per_lane_and_is_activation_bound()
    {
        var plan = PlanOf(Probe.LayerNet(28, 384, new Conv2DOp(384, 3, 3, Groups: 384)), "layer");
        Assert.True(plan.Depthwise);
        Assert.Equal(64, plan.Pack);
        Assert.Equal(64.0 / Probe.Pixel6.DepthwiseVectorPerCoreCycle, plan.Slow);
        Assert.Equal(Bound.ActivationBandwidth, LayerCycles.Analytical(plan, Probe.Pixel6).Bound);
    }

    [Fact]
    public void Small_groups_are_packed_side_by_side_in_the_lanes()
    {
        // 96 -> 384 with 12 groups: 32 outputs per group, two groups per 64-lane pass.
        var plan = PlanOf(Probe.LayerNet(28, 96, new Conv2DOp(384, 3, 3, Groups: 12)), "layer");
        Assert.Equal(2, plan.Pack);
        Assert.Equal(6, plan.Passes);
        var wide = PlanOf(Probe.LayerNet(28, 96, new Conv2DOp(384, 3, 3, Groups: 3)), "layer");
        Assert.Equal(1, wide.Pack);
        Assert.Equal(6, wide.Passes); // 3 groups × ⌈128/64⌉
    }

    [Fact]
    public void The_parameter_cache_is_allocated_over_the_whole_network()
    {
        var small = EdgeTpuCompiler.Compile(ModelZoo.Build("mobilenet-v2"), Probe.Pixel6);
        Assert.Equal(0, small.StreamedWeightBytes);
        Assert.Equal(small.Network.WeightBytesInt8, small.CachedWeightBytes);

        var big = EdgeTpuCompiler.Compile(ModelZoo.Build("resnet-50"), Probe.Pixel6);
        Assert.True(big.StreamedWeightBytes > 0);
        Assert.True(big.CachedWeightBytes + big.ActivationReserveBytes <= Probe.Pixel6.ParamCacheBytes);
        Assert.Equal(big.Network.WeightBytesInt8, big.CachedWeightBytes + big.StreamedWeightBytes);
        Assert.All(big.Plans.Where(p => !p.ParamsCached), p => Assert.Equal(p.ParamBytes, p.OffChipWeightBytes));
        // Greedy in execution order: the first layers are cached.
        Assert.True(big.Plans.First(p => p.ParamBytes > 0).ParamsCached);
    }

    [Fact]
    public void Activations_that_do_not_fit_on_chip_spill()
    {
        var n = ModelZoo.Build("deeplabv3plus-mobilenet-v2");
        var compiled = EdgeTpuCompiler.Compile(n, Probe.Pixel6);
        Assert.Equal((long)(Probe.Pixel6.MaxActivationShare * Probe.Pixel6.ParamCacheBytes), compiled.ActivationReserveBytes);
        var spilled = compiled.Plans.Where(p => p.SpillBytes > 0).ToList();
        Assert.NotEmpty(spilled);
        Assert.All(spilled, p => Assert.Equal(p.Info.InputBytes + p.Info.OutputBytes - compiled.ActivationReserveBytes, p.SpillBytes));
        Assert.DoesNotContain(EdgeTpuCompiler.Compile(ModelZoo.Build("mobilenet-v2"), Probe.Pixel6).Plans, p => p.SpillBytes > 0);
    }

    [Fact]
    public void Non_conv_ops_are_vector_work()
    {
        var b = new NetworkBuilder("v");
        var x = b.Input(28, 28, 64);
        var y = b.Conv(x, 64, 3);
        var s = b.Sum(x, y);
        var p = b.Pool(s, PoolKind.Average, 3, 2);
        var r = b.Resize(p, 28, 28);
        var n = b.Build(b.Softmax(r));
        var report = Probe.Cost(n);
        foreach (var name in new[] { "add", "avgpool", "resize", "softmax" })
        {
            var layer = report.Layers.Single(l => l.Name == name);
            Assert.Equal(Mapping.Vector, layer.Mapping);
            Assert.True(layer.Cycles > Probe.Pixel6.LayerOverheadCycles, name);
            Assert.True(layer.EnergyUj > 0, name);
        }
        Assert.Equal(0, report.Layers.Single(l => l.Name == "input").Cycles);
    }

    [Fact]
    public void A_layer_whose_smallest_tile_does_not_fit_cannot_be_mapped()
    {
        var e = Assert.Throws<UnmappableNetworkException>(() => EdgeTpuCompiler.Compile(ModelZoo.Build("vgg-16", 2048), Probe.Pixel6));
        Assert.Contains("cannot be mapped on pixel6@2", e.Message);
        Assert.Contains("KiB of activations", e.Message);
        Assert.StartsWith("layer 'stage1/", e.Message);
    }
}
