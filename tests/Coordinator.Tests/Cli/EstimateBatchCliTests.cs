using System.Text.Json;
using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Tests.Cli;

/// <summary>The JSON-lines batch mode external drivers (the Optuna benchmark) use.</summary>
public class EstimateBatchCliTests
{
    [Fact]
    public void Batch_mode_answers_one_line_per_candidate_and_survives_bad_lines()
    {
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var rng = new DeterministicRng(9);
        var candidates = Enumerable.Range(0, 3).Select(_ => space.Sample(rng)).ToList();
        var input = string.Join("\n", [candidates[0].ToJson(), "{\"stem.filters\": 32}", "not json", candidates[1].ToJson(), "", candidates[2].ToJson()]);
        var r = CliResult.RunWithInput(input, "estimate", "--batch", "--space", "mnv2-edgetpu-classification",
            "--quality", "synthetic", "--objective", "mnas", "--latency-target-ms", "1.5");
        Assert.Equal(0, r.ExitCode);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(5, lines.Count);
        Assert.Contains("missing decision", lines[1].GetProperty("error").GetString());
        Assert.Contains("malformed JSON", lines[2].GetProperty("error").GetString());
        var reward = RewardFunction.Parse("mnas", 1.5, null, null);
        foreach (var (line, candidate) in new[] { (lines[0], candidates[0]), (lines[3], candidates[1]), (lines[4], candidates[2]) })
        {
            var network = space.Build(candidate);
            var cost = CostModel.Estimate(network, HardwarePresets.Get("pixel6"));
            var quality = SyntheticQuality.Of(network);
            Assert.Equal(network.Hash, line.GetProperty("hash").GetString());
            Assert.Equal(cost.LatencyMs, line.GetProperty("latency_ms").GetDouble(), 9);
            Assert.Equal(quality, line.GetProperty("quality").GetDouble(), 12);
            Assert.Equal(reward.Reward(new TrialMeasurement(quality, cost.LatencyMs, cost.EnergyMj, network.Params)), line.GetProperty("reward").GetDouble(), 12);
        }
    }

    [Fact]
    public void Batch_mode_needs_a_space_and_no_target()
    {
        CliResult.RunWithInput("", "estimate", "--batch").AssertBadInput("--batch needs --space");
        CliResult.RunWithInput("", "estimate", "mobilenet-v2", "--batch", "--space", "mnv2-edgetpu-classification").AssertBadInput("do not give a TARGET");
        CliResult.RunWithInput("", "estimate", "--batch", "--space", "mnv2-edgetpu-classification", "--quality", "real").AssertBadInput("--quality must be 'synthetic'");
        CliResult.RunWithInput("", "estimate", "--batch", "--space", "mnv2-edgetpu-classification", "--quality", "synthetic").AssertBadInput("needs a target");
        CliResult.Run("estimate").AssertBadInput("give a TARGET");
    }
}
