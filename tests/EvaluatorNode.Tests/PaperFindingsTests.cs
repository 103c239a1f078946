using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>
/// The paper's findings as checks on the pixel6 preset (edgetpu.md §6.8). Group size is input channels
/// per group throughout; blocks are k=3, expansion 4, stride 1.
/// </summary>
public class PaperFindingsTests
{
    [Fact]
    public void Depthwise_layers_underuse_the_array_while_1x1_and_full_convs_do_not()
    {
        var dw = Probe.Cost(Probe.LayerNet(28, 384, new Conv2DOp(384, 3, 3, Groups: 384)));
        var pw = Probe.Cost(Probe.LayerNet(28, 96, new Conv2DOp(384, 1, 1)));
        var full = Probe.Cost(Probe.LayerNet(28, 96, new Conv2DOp(384, 3, 3)));
        Assert.True(dw.Utilization <= 0.25, $"depthwise U = {dw.Utilization:F3}");
        Assert.True(pw.Utilization >= 0.5, $"1x1 U = {pw.Utilization:F3}");
        Assert.True(full.Utilization >= 0.5, $"full 3x3 U = {full.Utilization:F3}");
    }

    [Theory]
    [InlineData(28, 96)]
    [InlineData(14, 192)]
    public void Gc_ibn_utilization_rises_with_group_size_and_nears_fused_ibn_from_32(int size, int channels)
    {
        var fused = Probe.Block(size, channels, IbnKind.Fused).Utilization;
        var previous = 0.0;
        foreach (var g in new[] { 1, 2, 4, 8, 16, 32, 64 })
        {
            var u = Probe.Block(size, channels, IbnKind.GroupConv, g).Utilization;
            Assert.True(u >= previous - 1e-9, $"U(g={g}) = {u:F3} fell below U = {previous:F3}");
            if (g >= 32) Assert.True(u >= 0.9 * fused, $"U(g={g}) = {u:F3} is not within 10% of fused {fused:F3}");
            previous = u;
        }
        Assert.True(Probe.Block(size, channels, IbnKind.GroupConv, 1).Utilization < 0.8 * fused, "small groups are clearly worse");
    }

    [Theory]
    [InlineData(28, 96)]
    [InlineData(14, 192)]
    public void Gc_ibn_latency_stays_near_depthwise_ibn_while_offering_more_parameters(int size, int channels)
    {
        var dw = Probe.Block(size, channels, IbnKind.Depthwise);
        var gc = Probe.Block(size, channels, IbnKind.GroupConv, groupSize: 32);
        var ratio = gc.SimulatedMs / dw.SimulatedMs;
        Assert.InRange(ratio, 0.7, 1.3);
        Assert.True(gc.Params > dw.Params, $"GC-IBN {gc.Params} params vs DW-IBN {dw.Params}");
    }

    [Fact]
    public void Fused_ibn_is_expensive_and_more_so_in_late_stages()
    {
        double Ratio(int size, int c) => Probe.Block(size, c, IbnKind.Fused).SimulatedMs / Probe.Block(size, c, IbnKind.Depthwise).SimulatedMs;
        var early = Ratio(56, 48);
        var mid = Ratio(28, 96);
        Assert.True(mid >= 2.5, $"fused/DW at 28x28x96 = {mid:F2}");
        Assert.True(Ratio(14, 192) >= early, "14x14 vs 56x56");
        Assert.True(Ratio(7, 320) >= early, "7x7 vs 56x56");
    }

    [Fact]
    public void Weights_beyond_the_parameter_cache_produce_a_latency_step()
    {
        // A stack of fused 7x7x320 blocks (4.1 MB of weights each): latency per block jumps once the
        // parameter cache is full and weights start streaming from off-chip every inference.
        var latencies = new List<double>();
        var streamed = new List<long>();
        for (var blocks = 1; blocks <= 4; blocks++)
        {
            var b = new NetworkBuilder("fused-stack");
            var x = b.Input(7, 7, 320);
            for (var i = 0; i < blocks; i++) x = Ibn.Build(b, x, new IbnSpec(IbnKind.Fused, 320, 3, 1, 4), $"b{i}");
            var report = Probe.Cost(b.Build(x));
            latencies.Add(report.SimulatedMs);
            streamed.Add(report.StreamedWeightBytes);
        }
        Assert.Equal(0, streamed[0]);
        var firstStreaming = streamed.FindIndex(s => s > 0);
        Assert.True(firstStreaming > 0, "the stack eventually exceeds the parameter cache");
        var cachedIncrement = latencies[1] - latencies[0];
        var streamingIncrement = latencies[firstStreaming] - latencies[firstStreaming - 1];
        Assert.True(streamingIncrement > 1.5 * cachedIncrement,
            $"a step, not a smooth increase: +{cachedIncrement:F4} ms per cached block vs +{streamingIncrement:F4} ms when streaming starts");
        // ΔT ≈ uncached bytes / off-chip bandwidth (edgetpu.md §6.8 check 6).
        Assert.True(streamingIncrement >= streamed[firstStreaming] / Probe.Pixel6.OffChipBytesPerSecond * 1e3 * 0.9);
    }

    [Fact]
    public void Latency_never_falls_when_channels_resolution_kernel_or_expansion_grow()
    {
        foreach (var kind in Enum.GetValues<IbnKind>())
        {
            double T(int size, int c, int k, int e) =>
                Probe.Cost(Probe.BlockNet(size, c, new IbnSpec(kind, c, k, 1, e, 32, ExpansionPointwise: e % 2 == 0 ? 2 : 1))).SimulatedMs;
            foreach (var (size, c, k, e) in new[] { (28, 64, 3, 4), (14, 128, 3, 4), (56, 32, 5, 6) })
            {
                var t = T(size, c, k, e);
                Assert.True(T(size, c * 2, k, e) >= t, $"{kind}: channels");
                Assert.True(T(size * 2, c, k, e) >= t, $"{kind}: resolution");
                Assert.True(T(size, c, k + 2, e) >= t, $"{kind}: kernel");
                Assert.True(T(size, c, k, e * 2) >= t, $"{kind}: expansion");
            }
        }
    }

    [Fact]
    public void Depthwise_ibn_spends_more_energy_per_mac_than_fused_ibn()
    {
        foreach (var (size, c) in new[] { (56, 48), (28, 96), (14, 192), (7, 320) })
        {
            var dw = Probe.Block(size, c, IbnKind.Depthwise);
            var fused = Probe.Block(size, c, IbnKind.Fused);
            Assert.True(dw.EnergyMj / dw.Macs > fused.EnergyMj / fused.Macs, $"{size}x{size}x{c}");
            Assert.True(fused.EnergyMj > dw.EnergyMj, "more MACs still cost more energy in total");
        }
    }
}
