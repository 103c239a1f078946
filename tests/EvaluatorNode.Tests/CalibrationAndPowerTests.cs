using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Tests;

public class CalibrationTests
{
    [Theory]
    [InlineData(Fidelity.Analytical)]
    [InlineData(Fidelity.Detailed)]
    public void Pixel6_reproduces_the_published_pixel6_latencies(Fidelity fidelity)
    {
        var result = Calibration.Check(Probe.Pixel6, Calibration.Pixel6, fidelity);
        Assert.True(result.Spearman >= 0.95, $"Spearman {result.Spearman:F3}");
        Assert.True(result.Mape <= 0.10, $"MAPE {result.Mape:P1}");
    }

    [Fact]
    public void The_stored_map_is_the_least_squares_fit_and_nothing_else_is_fitted()
    {
        var fit = Calibration.Fit(Probe.Pixel6, Calibration.Pixel6);
        Assert.Equal(fit.Slope, Probe.Pixel6.CalibrationSlope, 3);
        Assert.Equal(fit.InterceptMs, Probe.Pixel6.CalibrationInterceptMs, 3);
        Assert.Equal(["mobilenet-edgetpu-v2-tiny", "mobilenet-edgetpu-v2-xs", "mobilenet-edgetpu-v2-s", "mobilenet-edgetpu-v2-m", "mobilenet-edgetpu-v2-l", "mobilenet-edgetpu"],
            Calibration.Pixel6.Select(p => p.Model));
        Assert.Equal([0.78, 0.82, 1.03, 1.35, 1.64, 0.92], Calibration.Pixel6.Select(p => p.PublishedMs));
        Assert.All(HardwarePresets.Presets.Where(h => h.Name != "pixel6"), h => Assert.Equal((1.0, 0.0), (h.CalibrationSlope, h.CalibrationInterceptMs)));
    }

    [Fact]
    public void Published_orderings_hold_after_calibration()
    {
        double L(string m) => CostModel.Estimate(ModelZoo.Build(m), Probe.Pixel6).LatencyMs;
        string[] v2 = ["mobilenet-edgetpu-v2-tiny", "mobilenet-edgetpu-v2-xs", "mobilenet-edgetpu-v2-s", "mobilenet-edgetpu-v2-m", "mobilenet-edgetpu-v2-l"];
        for (var i = 1; i < v2.Length; i++) Assert.True(L(v2[i]) > L(v2[i - 1]), v2[i]);
        Assert.InRange(L("mobilenet-edgetpu"), L("mobilenet-edgetpu-v2-xs"), L("mobilenet-edgetpu-v2-s"));
    }

    [Fact]
    public void Statistics_are_right_on_hand_checked_data()
    {
        Assert.Equal(1.0, Statistics.Pearson([1, 2, 3], [2, 4, 6]), 12);
        Assert.Equal(-1.0, Statistics.Spearman([1, 2, 3], [9, 5, 1]), 12);
        Assert.Equal([1.5, 1.5, 3], Statistics.Ranks([7, 7, 9]));
        Assert.Equal(1.0 / 3, Statistics.KendallTau([1, 2, 3], [1, 3, 2]), 12);
        var (slope, intercept) = Calibration.LeastSquares([1, 2, 3], [3, 5, 7]);
        Assert.Equal((2.0, 1.0), (Math.Round(slope, 12), Math.Round(intercept, 12)));
    }
}

public class PowerTests
{
    [Fact]
    public void Energy_is_activity_times_energy_per_action_plus_static_power_times_time()
    {
        var n = ModelZoo.Build("mobilenet-edgetpu-v2-s");
        var r = Probe.Cost(n);
        var e = Probe.Pixel6.Energy;
        Assert.True(r.EnergyMj * 1e9 >= n.Macs * e.MacPj, "energy ≥ MACs × e_MAC");
        // Layers carry their dynamic energy and static power over their calibrated time; the rest is the host's
        // time (static power keeps running) and the input and output crossing the link.
        var (inBytes, outBytes) = CostModel.InputOutputBytes(n);
        var staticW = PowerModel.StaticPowerW(Probe.Pixel6);
        Assert.Equal(r.EnergyMj, r.Layers.Sum(l => l.EnergyUj) * 1e-3 + staticW * r.Host.TotalMs + (inBytes + outBytes) * e.OffChipPjPerByte * 1e-9, 1e-9);
        Assert.Equal(r.LatencyMs, r.Layers.Sum(l => l.LatencyMs) + r.Host.TotalMs, 1e-9);
        Assert.Equal(Probe.Pixel6.CalibrationSlope * r.SimulatedMs, r.Layers.Sum(l => l.LatencyMs), 1e-9);
        // Static energy is static power over the whole calibrated latency; power_w is the active power with
        // idle subtracted (Akin et al. §5.5): average power less the static part.
        Assert.Equal(r.EnergyMj / r.LatencyMs, r.AveragePowerW, 1e-12);
        Assert.Equal(r.AveragePowerW - staticW, r.PowerW, 1e-9);
        Assert.True(r.EnergyMj > staticW * r.LatencyMs);
        Assert.False(r.OverPowerBudget);
    }

    [Fact]
    public void Only_networks_that_move_data_off_chip_average_above_the_pixel6_budget_and_they_are_flagged()
    {
        // The array's densest work draws exactly the budget (presets are capped so); what can push a network's
        // average over it is DRAM traffic: weights that stream every inference, activations that spill.
        var over = new List<string>();
        foreach (var name in ModelZoo.Names)
        {
            var r = Probe.Cost(ModelZoo.Build(name));
            Assert.Equal(r.AveragePowerW > Probe.Pixel6.PowerBudgetW, r.OverPowerBudget);
            if (!r.OverPowerBudget) continue;
            over.Add(name);
            Assert.True(r.StreamedWeightBytes + r.ActivationSpillBytes > 0, $"{name}: {r.AveragePowerW:F3} W with everything on chip");
        }
        Assert.Contains("resnet-152", over); // 55 MB of weights stream from LPDDR every inference
        Assert.DoesNotContain("mobilenet-edgetpu-v2-s", over);
        var tight = Probe.Pixel6 with { PowerBudgetW = 0.3 };
        Assert.True(Probe.Cost(ModelZoo.Build("mobilenet-edgetpu-v2-s"), tight).OverPowerBudget);
    }

    [Fact]
    public void Off_chip_traffic_costs_energy()
    {
        var n = ModelZoo.Build("resnet-50");
        var onChip = Probe.Pixel6 with { ParamCacheBytes = 64L * 1024 * 1024 };
        var streaming = Probe.Cost(n);
        var cached = Probe.Cost(n, onChip);
        Assert.True(streaming.StreamedWeightBytes > 0);
        Assert.Equal(0, cached.StreamedWeightBytes);
        Assert.True(streaming.EnergyMj > cached.EnergyMj + streaming.StreamedWeightBytes * Probe.Pixel6.Energy.OffChipPjPerByte * 1e-9 * 0.99);
    }
}

public class LayerCostCacheTests
{
    [Fact]
    public void Repeated_and_related_networks_hit_the_cache()
    {
        var cache = new LayerCostCache();
        var n = ModelZoo.Build("mobilenet-edgetpu-v2-s");
        var first = CostModel.Estimate(n, Probe.Pixel6, Fidelity.Analytical, cache);
        var misses = cache.Misses;
        var second = CostModel.Estimate(n, Probe.Pixel6, Fidelity.Analytical, cache);
        Assert.Equal(misses, cache.Misses);
        Assert.Equal(first.LatencyMs, second.LatencyMs);
        Assert.True(misses < n.Layers.Length, "identical layers inside one network already share entries");
    }

    [Fact]
    public void A_modified_copy_of_a_preset_never_gets_the_originals_costs()
    {
        var cache = new LayerCostCache();
        var n = ModelZoo.Build("mobilenet-v2");
        var baseline = CostModel.Estimate(n, Probe.Pixel6, Fidelity.Analytical, cache);
        var slowDw = Probe.Pixel6 with { DepthwiseVectorPerCoreCycle = 0.5 };
        Assert.Equal(Probe.Pixel6.Id, slowDw.Id); // same name and version...
        var changed = CostModel.Estimate(n, slowDw, Fidelity.Analytical, cache);
        Assert.True(changed.LatencyMs > baseline.LatencyMs * 1.05, "...but its own numbers");
    }

    [Fact]
    public void The_cache_is_bounded()
    {
        var cache = new LayerCostCache(capacity: 50);
        foreach (var name in new[] { "mobilenet-v2", "resnet-50", "mobilebert" })
            CostModel.Estimate(ModelZoo.Build(name), Probe.Pixel6, Fidelity.Analytical, cache);
        Assert.True(cache.Count <= 50);
    }
}
