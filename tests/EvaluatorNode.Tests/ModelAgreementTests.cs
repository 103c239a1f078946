using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>The analytical model and the tile simulator must tell the same story.</summary>
public class ModelAgreementTests
{
    [Fact]
    public void Over_500_random_candidates_the_two_models_correlate_with_r_at_least_095()
    {
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var rng = new DeterministicRng(500);
        var cache = new LayerCostCache();
        var analytical = new List<double>();
        var detailed = new List<double>();
        for (var i = 0; i < 500; i++)
        {
            var n = space.Build(space.Sample(rng));
            analytical.Add(CostModel.Estimate(n, Probe.Pixel6, Fidelity.Analytical, cache).LatencyMs);
            detailed.Add(CostModel.Estimate(n, Probe.Pixel6, Fidelity.Detailed, cache).LatencyMs);
        }
        var r = Statistics.Pearson(analytical, detailed);
        Assert.True(r >= 0.95, $"Pearson r = {r:F4}");
        Assert.True(analytical.Max() / analytical.Min() > 2, "the sample spans a real range of latencies");
    }

    public static TheoryData<string> Zoo => new(ModelZoo.Names);

    [Theory]
    [MemberData(nameof(Zoo))]
    public void On_every_zoo_model_the_two_models_agree_within_15_percent(string name)
    {
        var n = ModelZoo.Build(name);
        var a = Probe.Cost(n, f: Fidelity.Analytical);
        var d = Probe.Cost(n, f: Fidelity.Detailed);
        var rel = Math.Abs(d.SimulatedMs / a.SimulatedMs - 1);
        Assert.True(rel <= 0.15, $"{name}: analytical {a.SimulatedMs:F3} ms, detailed {d.SimulatedMs:F3} ms ({rel:P1})");
        // Same report shape and the same counts.
        Assert.Equal(a.Layers.Select(l => l.Name), d.Layers.Select(l => l.Name));
        Assert.Equal(a.CachedWeightBytes, d.CachedWeightBytes);
        Assert.Equal(n.Macs, d.Macs);
    }

    [Fact]
    public void In_the_large_tile_no_contention_limit_the_simulator_reproduces_the_closed_form()
    {
        // One big cached conv, one weight tile, no spill: nothing to overlap or contend for.
        var n = Probe.LayerNet(56, 64, new NasCluster.Shared.Architecture.Conv2DOp(64, 3, 3));
        var a = Probe.Cost(n, f: Fidelity.Analytical);
        var d = Probe.Cost(n, f: Fidelity.Detailed);
        Assert.Equal(a.Cycles, d.Cycles, 0.02 * a.Cycles);
    }
}
