using System.Text.Json;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>
/// Every valid hardware file prices every network, or refuses it with one line naming the problem
/// (<see cref="NasInputException"/>): never an internal error, never a NaN or an impossible number.
/// </summary>
public class HardwarePropertyTests
{
    private static readonly string[] Models = ["mobilenet-v2", "mobilenet-edgetpu-v2-s", "resnet-50", "deeplabv3plus-mobilenet-v2", "mobilebert", "ssdlite-mobilenet-v2"];

    // Every numeric field of a hardware file with the range HardwareFile accepts and whether it is an integer.
    private static readonly (string Key, double Min, double Max, bool Integer)[] Fields =
    [
        ("clock_mhz", 1, 100_000, false), ("pe_x", 1, 256, true), ("pe_y", 1, 256, true), ("cores_per_pe", 1, 256, true),
        ("lanes_per_core", 1, 4096, true), ("mac_ways_per_lane", 1, 256, true), ("act_broadcast_per_core_cycle", 0.01, 4096, false),
        ("depthwise_vector_per_core_cycle", 0.01, 4096, false), ("core_mem_kib", 1, 1 << 20, false), ("pe_mem_kib", 16, 1 << 22, false),
        ("param_cache_kib", 0, 1 << 24, false), ("max_activation_share", 0.01, 1, false), ("off_chip_gb_per_s", 1e-4, 10_000, false),
        ("weight_broadcast_bytes_per_cycle", 1, 1 << 16, true), ("pe_mem_bytes_per_cycle", 1, 1 << 16, true),
        ("activation_broadcast_bytes_per_cycle", 1, 1 << 16, true), ("layer_overhead_cycles", 0, 1 << 24, true),
        ("pass_overhead_cycles", 0, 1 << 20, true), ("technology_nm", 2, 180, false), ("off_chip_pj_per_byte", 0, 10_000, false),
        ("static_fraction", 0, 1, false), ("power_budget_w", 0.001, 10_000, false), ("energy_scale", 1e-3, 1e3, false),
    ];

    private static Dictionary<string, double> FieldsOf(HardwareConfig h) => new()
    {
        ["clock_mhz"] = h.ClockHz / 1e6, ["pe_x"] = h.PeX, ["pe_y"] = h.PeY, ["cores_per_pe"] = h.CoresPerPe, ["lanes_per_core"] = h.LanesPerCore,
        ["mac_ways_per_lane"] = h.MacWaysPerLane, ["act_broadcast_per_core_cycle"] = h.ActBroadcastPerCoreCycle,
        ["depthwise_vector_per_core_cycle"] = h.DepthwiseVectorPerCoreCycle, ["core_mem_kib"] = h.CoreMemBytes / 1024.0,
        ["pe_mem_kib"] = h.PeMemBytes / 1024.0, ["param_cache_kib"] = h.ParamCacheBytes / 1024.0, ["max_activation_share"] = h.MaxActivationShare,
        ["off_chip_gb_per_s"] = h.OffChipBytesPerSecond / 1e9, ["weight_broadcast_bytes_per_cycle"] = h.WeightBroadcastBytesPerCycle,
        ["pe_mem_bytes_per_cycle"] = h.PeMemBytesPerCycle, ["activation_broadcast_bytes_per_cycle"] = h.ActivationBroadcastBytesPerCycle,
        ["layer_overhead_cycles"] = h.LayerOverheadCycles, ["pass_overhead_cycles"] = h.PassOverheadCycles, ["technology_nm"] = h.TechnologyNm,
        ["off_chip_pj_per_byte"] = h.Energy.OffChipPjPerByte, ["static_fraction"] = h.Energy.StaticFraction, ["power_budget_w"] = h.PowerBudgetW,
        ["energy_scale"] = h.Energy.OnChipScale,
    };

    private static string File(string name, string? basePreset, IReadOnlyDictionary<string, double> values, bool deviceDram = true)
    {
        var o = new Dictionary<string, object> { ["format"] = "nascluster-hardware", ["version"] = 1, ["name"] = name };
        if (basePreset is not null) o["base"] = basePreset;
        foreach (var (k, v) in values) o[k] = v;
        if (!deviceDram) o["host"] = new Dictionary<string, object> { ["device_dram"] = false, ["link_gb_per_s"] = values["off_chip_gb_per_s"] };
        return JsonSerializer.Serialize(o);
    }

    private static double Draw(Random rng, (string Key, double Min, double Max, bool Integer) f, double around)
    {
        var v = Math.Clamp(around * Math.Pow(2, rng.NextDouble() * 2 - 1), f.Min, f.Max); // ×0.5 … ×2
        return f.Integer ? Math.Clamp(Math.Round(v), Math.Ceiling(f.Min), f.Max) : v;
    }

    /// <summary>Prices every model; a refusal must be a one-line input error. Returns how many priced.</summary>
    private static int PriceAll(HardwareConfig h, IEnumerable<Shared.Architecture.Network> networks, Fidelity fidelity, string what)
    {
        var priced = 0;
        foreach (var n in networks)
        {
            CostReport r;
            try
            {
                r = CostModel.Estimate(n, h, fidelity, new LayerCostCache());
            }
            catch (NasInputException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                Assert.Contains(h.Id, e.Message); // names the hardware it cannot map on
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"{what}, {n.Name}: internal error {e.GetType().Name}: {e.Message}");
                throw;
            }
            priced++;
            var context = $"{what}, {n.Name} ({fidelity})";
            Assert.True(double.IsFinite(r.LatencyMs) && r.LatencyMs > 0, $"{context}: latency {r.LatencyMs}");
            Assert.True(double.IsFinite(r.EnergyMj) && r.EnergyMj > 0, $"{context}: energy {r.EnergyMj}");
            Assert.True(r.EnergyMj * 1e9 >= n.Macs * h.Energy.MacPj * (1 - 1e-9), $"{context}: energy below MACs × e_MAC");
            Assert.True(double.IsFinite(r.PowerW) && r.PowerW >= 0, $"{context}: power {r.PowerW}");
            Assert.InRange(r.Utilization, 1e-12, 1 + 1e-9);
            Assert.All(r.Layers, l => Assert.True(double.IsFinite(l.LatencyMs) && l.LatencyMs >= 0 && l.Utilization <= 1 + 1e-9, $"{context}: layer {l.Name}"));
        }
        return priced;
    }

    [Fact]
    public void Random_variations_of_every_numeric_field_of_the_pixel6_preset_price_or_fail_with_one_line()
    {
        var rng = new Random(20261203);
        var networks = Models.Select(m => ModelZoo.Build(m)).ToList();
        var around = FieldsOf(HardwarePresets.Get("pixel6"));
        var pricedConfigs = 0;
        for (var i = 0; i < 60; i++)
        {
            var values = Fields.ToDictionary(f => f.Key, f => Draw(rng, f, around[f.Key]));
            var text = File($"p6-variant-{i}", "pixel6", values, deviceDram: i % 3 != 0);
            var h = HardwareFile.Parse(text, $"variant-{i}.json");
            if (PriceAll(h, networks, Fidelity.Analytical, text) == networks.Count) pricedConfigs++;
            Assert.True(double.IsFinite(PowerModel.FullUtilizationPowerW(h)) && PowerModel.FullUtilizationPowerW(h) > 0, text);
        }
        // Scaled by at most two, a pixel6-like part runs all of these networks nearly always (a halved PE memory
        // may be too small for DeepLab's 512-wide rows: that is the one-line refusal above, not an error).
        Assert.True(pricedConfigs >= 54, $"{pricedConfigs} of 60 variants priced every network");
    }

    [Fact]
    public void Random_hardware_over_the_whole_accepted_ranges_prices_or_fails_with_one_line()
    {
        var rng = new Random(7);
        var networks = Models.Select(m => ModelZoo.Build(m)).ToList();
        var space = BuiltInSpaces.Resolve("mnv2-edgetpu-classification");
        var sampler = new DeterministicRng(7);
        networks.AddRange(Enumerable.Range(0, 4).Select(_ => space.Build(space.Sample(sampler))));
        var priced = 0;
        for (var i = 0; i < 60; i++)
        {
            // Log-uniform over each accepted range (sizes of PE arrays kept to what a test can simulate).
            var values = Fields.ToDictionary(f => f.Key, f =>
            {
                var (min, max) = f.Key is "pe_x" or "pe_y" ? (1.0, 16.0) : f.Key == "cores_per_pe" ? (1.0, 16.0) : (f.Min, f.Max);
                var v = min <= 0 ? rng.NextDouble() * max : Math.Exp(Math.Log(min) + rng.NextDouble() * (Math.Log(max) - Math.Log(min)));
                if (f.Key is "static_fraction" or "max_activation_share") v = Math.Max(f.Min, rng.NextDouble() * f.Max);
                return f.Integer ? Math.Clamp(Math.Round(v), Math.Ceiling(f.Min), f.Max) : v;
            });
            values["param_cache_kib"] = Math.Max(values["param_cache_kib"], values["pe_mem_kib"]);
            var text = File($"random-{i}", null, values, deviceDram: rng.Next(2) == 0);
            var h = HardwareFile.Parse(text, $"random-{i}.json");
            priced += PriceAll(h, networks, Fidelity.Analytical, text);
            // The tile simulator on the two smallest networks.
            PriceAll(h, networks.Where(n => n.Macs < 400_000_000).Take(2), Fidelity.Detailed, text);
        }
        Assert.True(priced > 0, "no random hardware priced anything: the generator is broken");
    }

    [Fact]
    public void A_preset_saved_as_a_hardware_file_loads_back_and_prices_exactly_as_the_preset()
    {
        foreach (var preset in HardwarePresets.Presets)
        {
            var text = HardwareFile.Write(preset);
            var copy = HardwareFile.Parse(text, $"{preset.Name}.json");
            Assert.Equal(preset.Name + "-custom", copy.Name);
            Assert.DoesNotContain("\"base\"", text, StringComparison.Ordinal);
            Assert.Equal(HardwareFingerprint.Describe(preset), HardwareFingerprint.Describe(copy));
            Assert.Equal((preset.CalibrationSlope, preset.CalibrationInterceptMs), (copy.CalibrationSlope, copy.CalibrationInterceptMs));
            foreach (var m in new[] { "mobilenet-v2", "resnet-50" })
            {
                var a = CostModel.Estimate(ModelZoo.Build(m), preset, Fidelity.Analytical, new LayerCostCache());
                var b = CostModel.Estimate(ModelZoo.Build(m), copy, Fidelity.Analytical, new LayerCostCache());
                Assert.Equal((a.LatencyMs, a.EnergyMj, a.PowerW), (b.LatencyMs, b.EnergyMj, b.PowerW));
            }
        }
    }

    [Fact]
    public void Four_mac_ways_per_lane_is_a_valid_part_that_prices()
    {
        var h = HardwareFile.Parse("""{"format": "nascluster-hardware", "version": 1, "name": "p6-4way", "base": "pixel6", "mac_ways_per_lane": 4}""", "4way.json");
        var r = CostModel.Estimate(ModelZoo.Build("mobilenet-v2"), h, Fidelity.Analytical, new LayerCostCache());
        Assert.True(r.LatencyMs > 0);
        Assert.True(PowerModel.FullUtilizationPowerW(h) > 0);
        Assert.Equal(4 * HardwarePresets.Get("pixel6").PeakMacsPerCycle, h.PeakMacsPerCycle);
    }
}
