using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Tests;

public class HardwareTests
{
    [Fact]
    public void The_six_presets_exist_pixel6_is_the_default_and_every_number_has_a_source()
    {
        Assert.Equal(["pixel6", "edgetpu-v1", "edgetpu-v2", "edgetpu-v3", "coral-pcie", "coral-usb3"], HardwarePresets.Names);
        Assert.Equal("pixel6", HardwarePresets.Default);
        foreach (var h in HardwarePresets.Presets)
        {
            Assert.True(h.Version >= 1);
            Assert.NotEmpty(h.Description);
            foreach (var key in new[] { "ClockHz", "CoresPerPe", "LanesPerCore", "ParamCacheBytes", "OffChipBytesPerSecond", "PowerBudgetW", "Energy", "DepthwiseVectorPerCoreCycle" })
                Assert.True(h.Sources.Keys.Any(k => k.Split(',').Contains(key) || k.StartsWith(key, StringComparison.Ordinal)),
                    $"{h.Name}: no source recorded for {key}");
        }
    }

    [Fact]
    public void Presets_have_the_published_peak_rates()
    {
        Assert.Equal(8.73, HardwarePresets.Get("pixel6").PeakTops, 2);       // 4096 MACs × 1.066 GHz × 2
        Assert.Equal(4.10, HardwarePresets.Get("coral-usb3").PeakTops, 2);   // Coral datasheet: 4 TOPS
        Assert.Equal(16, HardwarePresets.Get("edgetpu-v2").Pes);
        Assert.Equal(4, HardwarePresets.Get("edgetpu-v3").Pes);
        Assert.Equal(8L * 1024 * 1024, HardwarePresets.Get("coral-pcie").ParamCacheBytes);
    }

    [Fact]
    public void No_preset_exceeds_its_power_budget_at_full_utilization()
    {
        foreach (var h in HardwarePresets.Presets)
        {
            var full = PowerModel.FullUtilizationPowerW(h);
            Assert.True(full <= h.PowerBudgetW, $"{h.Name}: {full:F3} W at full utilisation > budget {h.PowerBudgetW} W");
            Assert.True(full > 0.05 * h.PowerBudgetW, $"{h.Name}: {full:F3} W is implausibly low");
        }
        // Coral: 2 W at 4 TOPS bounds everything at ≤ 1 pJ per int8 MAC (edgetpu.md §1.2).
        var coral = HardwarePresets.Get("coral-pcie");
        Assert.True(PowerModel.FullUtilizationPowerW(coral) / (coral.PeakMacsPerCycle * coral.ClockHz) <= 1e-12);
    }

    [Fact]
    public void Energies_scale_with_the_technology_node()
    {
        Assert.Equal(1.0, EnergyTable.TechnologyScale(45), 9);
        Assert.True(EnergyTable.TechnologyScale(28) > EnergyTable.TechnologyScale(7));
        var pixel6 = HardwarePresets.Get("pixel6");
        Assert.Equal(0.3 * EnergyTable.TechnologyScale(5) * pixel6.Energy.OnChipScale, pixel6.Energy.MacPj, 9);
        // The 5 nm estimate is capped so the densest dense conv draws no more than the budget (edgetpu.md §6.5).
        Assert.InRange(pixel6.Energy.OnChipScale, 0.9, 1.0);
        Assert.Equal(pixel6.PowerBudgetW, PowerModel.FullUtilizationPowerW(pixel6), 6);
        Assert.Equal(12.5, EnergyTable.Sram45nmPjPerByte(1024 * 1024), 1);
        Assert.Equal(2.5, EnergyTable.Sram45nmPjPerByte(32 * 1024), 6);
    }

    [Fact]
    public void Custom_hardware_loads_from_json_with_or_without_a_base()
    {
        var based = HardwareFile.Parse("""
            {"format": "nascluster-hardware", "version": 1, "name": "pixel6-fast-io", "base": "pixel6", "off_chip_gb_per_s": 64}
            """, "fast.json");
        var pixel6 = HardwarePresets.Get("pixel6");
        Assert.Equal(64e9, based.OffChipBytesPerSecond);
        Assert.Equal(pixel6.LanesPerCore, based.LanesPerCore);
        Assert.Equal(pixel6.Energy, based.Energy);
        Assert.NotEqual(HardwareFingerprint.Of(pixel6), HardwareFingerprint.Of(based));

        var full = HardwareFile.Parse("""
            {
              "format": "nascluster-hardware", "version": 1, "name": "tiny-npu",
              "clock_mhz": 500, "pe_x": 2, "pe_y": 2, "cores_per_pe": 2, "lanes_per_core": 16, "mac_ways_per_lane": 1,
              "act_broadcast_per_core_cycle": 2, "depthwise_vector_per_core_cycle": 4, "core_mem_kib": 16, "pe_mem_kib": 128,
              "param_cache_kib": 1024, "off_chip_gb_per_s": 4, "weight_broadcast_bytes_per_cycle": 64, "pe_mem_bytes_per_cycle": 32,
              "activation_broadcast_bytes_per_cycle": 32, "layer_overhead_cycles": 100, "pass_overhead_cycles": 8,
              "technology_nm": 22, "off_chip_pj_per_byte": 60, "static_fraction": 0.1, "power_budget_w": 0.5
            }
            """);
        Assert.Equal(128, full.PeakMacsPerCycle);
        var cost = CostModel.Estimate(NasCluster.Shared.Zoo.ModelZoo.Build("mobilenet-v2"), full);
        var onPixel6 = CostModel.Estimate(NasCluster.Shared.Zoo.ModelZoo.Build("mobilenet-v2"), pixel6);
        Assert.True(cost.SimulatedMs > 10 * onPixel6.SimulatedMs, "a 32× smaller array is much slower");
    }

    [Theory]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel7"}""", "$.base", "unknown base preset 'pixel7'")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "lanes_per_core": 0}""", "$.lanes_per_core", "between 1 and")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "clock_mhz": "fast"}""", "$.clock_mhz", "expected a number")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "lanes": 64}""", "$.lanes", "unknown key \"lanes\"")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "clock_mhz": 500}""", "$", "missing required keys pe_x, pe_y, cores_per_pe")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "pixel6", "base": "pixel6"}""", "$.name", "is a preset name")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "calibration": {"slope": -1}}""", "$.calibration.slope", "must be positive")]
    [InlineData("""{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "param_cache_kib": 64}""", "$", "at least one PE memory")]
    public void Invalid_hardware_files_name_path_and_reason(string text, string path, string reason)
    {
        var e = Assert.ThrowsAny<NasInputException>(() => HardwareFile.Parse(text, "hw.json"));
        Assert.Equal("hw.json", e.File);
        Assert.Equal(path, e.JsonPath);
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void Unknown_presets_are_clear_errors()
    {
        var e = Assert.Throws<NasInputException>(() => HardwarePresets.Resolve("tpu-v9"));
        Assert.Contains("unknown hardware preset 'tpu-v9'", e.Message);
        Assert.Contains("pixel6", e.Message);
        Assert.Contains("file not found", Assert.ThrowsAny<NasInputException>(() => HardwarePresets.Resolve("/nonexistent/hw.json")).Message);
    }
}
