using NasCluster.EvaluatorNode.Analysis;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>hardware sensitivity: each unverified figure varied, rankings and findings recomputed, the calibration refitted.</summary>
public class SensitivityTests
{
    [Fact]
    public void Each_variation_is_priced_refitted_and_checked_against_the_unchanged_preset()
    {
        var r = HardwareSensitivity.Run(Probe.Pixel6, factor: 0.5, candidates: 30, seed: 3,
            only: ["static_fraction", "act_broadcast_per_core_cycle", "lanes_per_core", "host.invocation_overhead_us"]);
        Assert.All(r.Findings.Take(3), f => Assert.True(f.Holds, f.Detail));
        // Static power changes energy, never latency: both rankings stay exactly the same.
        var statics = r.Rows.Where(x => x.Figure.Key == "static_fraction").ToList();
        Assert.Equal([0.05, 0.15], statics.Select(x => x.Value).Select(v => Math.Round(v, 9)));
        Assert.All(statics, x => Assert.Equal((1.0, 1.0), (x.ZooLatencyTau, x.SpaceLatencyTau)));
        // Halving the broadcast path reorders the space and loses findings; every variation still fits the six
        // calibration points after a refit, which is what "the calibration cannot pin it" means.
        var half = r.Rows.Single(x => x.Figure.Key == "act_broadcast_per_core_cycle" && x.Value == 0.5);
        Assert.True(half.SpaceLatencyTau < 0.9, $"tau {half.SpaceLatencyTau}");
        Assert.Contains(half.Findings, f => !f.Holds);
        Assert.All(r.Rows, x => Assert.False(x.RejectedByCalibration, $"{x.Figure.Key} = {x.Value}: MAPE {x.Refit!.Mape:P1}"));
        Assert.Contains(r.Unpinned, f => f.Key == "act_broadcast_per_core_cycle");
        Assert.Equal([32.0, 96.0], r.Rows.Where(x => x.Figure.Key == "lanes_per_core").Select(x => x.Value));
        // pixel6's invocation overhead is zero (the calibration's intercept stands for it): nothing to vary.
        Assert.Contains(r.NotVaried, n => n.Figure.Key == "host.invocation_overhead_us" && n.Reason == "zero");
    }

    [Fact]
    public void A_value_the_calibration_rejects_pins_its_figure_and_uncalibrated_presets_pin_none()
    {
        // A tenth of the PE memory cannot hold a row of MobileNetEdgeTPUv2-L, which the Pixel 6 runs: rejected.
        var r = HardwareSensitivity.Run(Probe.Pixel6, 0.9, 10, 1, ["pe_mem_kib"]);
        var tenth = r.Rows.Single(x => x.Value < 100);
        Assert.True(tenth.RejectedByCalibration);
        Assert.Contains("cannot be mapped", tenth.RefitFailure);
        Assert.DoesNotContain(r.Unpinned, f => f.Key == "pe_mem_kib");
        var coral = HardwareSensitivity.Run(NasCluster.EvaluatorNode.Hardware.HardwarePresets.Get("coral-pcie"), 0.5, 10, 1, ["layer_overhead_cycles"]);
        Assert.All(coral.Rows, x => Assert.Null(x.Refit));
        Assert.Empty(coral.Unpinned);
    }

    [Theory]
    [InlineData(1.5, 10, null, "the factor must be between 0 and 1")]
    [InlineData(0.5, 1, null, "at least 2 candidates")]
    [InlineData(0.5, 10, "lanes,clock_mhz", "unknown figure lanes (figures: clock_mhz")]
    public void Bad_arguments_are_one_clear_error(double factor, int candidates, string? only, string message)
    {
        var e = Assert.ThrowsAny<NasInputException>(() => HardwareSensitivity.Run(Probe.Pixel6, factor, candidates, 1, only?.Split(',')));
        Assert.Contains(message, e.Message);
    }
}
