using NasCluster.Coordinator.Pareto;
using NasCluster.Coordinator.Rewards;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Tests.Search;

public class RewardTests
{
    private static readonly TrialMeasurement M = new(Quality: 0.8, LatencyMs: 2.0, EnergyMj: 0.5, Params: 4_000_000);

    [Fact]
    public void Mnas_reward_is_quality_times_cost_ratio_to_the_w()
    {
        var r = new RewardFunction(RewardKind.Mnas, [new CostTarget(CostMetric.LatencyMs, 1.0)]);
        Assert.Equal(0.8 * Math.Pow(2.0, -0.07), r.Reward(M), 12);
        var under = M with { LatencyMs = 0.5 };
        Assert.Equal(0.8 * Math.Pow(0.5, -0.07), r.Reward(under), 12);
        Assert.True(r.Reward(under) > 0.8 && r.Reward(M) < 0.8);
        // Several targets multiply; w is configurable.
        var two = new RewardFunction(RewardKind.Mnas, [new CostTarget(CostMetric.LatencyMs, 1.0), new CostTarget(CostMetric.EnergyMj, 1.0)], W: -0.1);
        Assert.Equal(0.8 * Math.Pow(2.0, -0.1) * Math.Pow(0.5, -0.1), two.Reward(M), 12);
    }

    [Fact]
    public void Tunas_reward_is_quality_plus_beta_times_relative_distance_to_the_target()
    {
        var r = new RewardFunction(RewardKind.Tunas, [new CostTarget(CostMetric.LatencyMs, 1.6)], Beta: -0.5);
        Assert.Equal(0.8 - 0.5 * 0.25, r.Reward(M), 12);
        Assert.Equal(0.8 - 0.5 * 0.25, r.Reward(M with { LatencyMs = 1.2 }), 12); // symmetric: under is penalised too
        var two = new RewardFunction(RewardKind.Tunas, [new CostTarget(CostMetric.LatencyMs, 1.6), new CostTarget(CostMetric.Params, 5e6)], Beta: -0.5);
        Assert.Equal(0.8 - 0.5 * 0.25 - 0.5 * 0.2, two.Reward(M), 12);
    }

    [Fact]
    public void Hard_constraints_reject_anything_over_a_target()
    {
        var r = new RewardFunction(RewardKind.Hard, [new CostTarget(CostMetric.LatencyMs, 2.5), new CostTarget(CostMetric.EnergyMj, 0.4)], InfeasibleReward: -1);
        Assert.Equal(-1, r.Reward(M));
        Assert.Equal(0.8, r.Reward(M with { EnergyMj = 0.4 }));
        Assert.False(r.Feasible(M));
        Assert.Equal(0.8, RewardFunction.QualityOnly.Reward(M));
    }

    [Fact]
    public void Objectives_parse_from_the_command_line_options()
    {
        var mnas = RewardFunction.Parse("mnas", 1.2, null, null);
        Assert.Equal((RewardKind.Mnas, -0.07), (mnas.Kind, mnas.W));
        Assert.Equal([new CostTarget(CostMetric.LatencyMs, 1.2)], mnas.Targets);
        Assert.Equal(2, RewardFunction.Parse("hard", 1.2, 0.3, null).Targets.Count);
        Assert.Contains("needs a target", Assert.Throws<NasInputException>(() => RewardFunction.Parse("tunas", null, null, null)).Message);
        Assert.Contains("unknown objective 'speed'", Assert.Throws<NasInputException>(() => RewardFunction.Parse("speed", 1, null, null)).Message);
        Assert.Contains("positive", Assert.Throws<NasInputException>(() => RewardFunction.Parse("mnas", -1, null, null)).Message);
    }
}

public class ParetoTests
{
    [Fact]
    public void The_front_keeps_exactly_the_non_dominated_points()
    {
        var f = new ParetoFront();
        Assert.True(f.Add(new("a", 2, 0.70)));
        Assert.True(f.Add(new("b", 1, 0.50)));
        Assert.True(f.Add(new("c", 4, 0.90)));
        Assert.False(f.Add(new("d", 3, 0.60)));  // dominated by a (cheaper and better)
        Assert.False(f.Add(new("e", 2, 0.70)));  // a tie keeps the earlier point
        Assert.Equal(["b", "a", "c"], f.Points.Select(p => p.Id));
        Assert.True(f.Add(new("g", 1.5, 0.80))); // dominates a, keeps b and c
        Assert.Equal(["b", "g", "c"], f.Points.Select(p => p.Id));
        Assert.True(f.Add(new("h", 0.5, 0.95))); // dominates everything
        Assert.Equal(["h"], f.Points.Select(p => p.Id));
    }

    [Fact]
    public void Hypervolume_matches_hand_computed_areas()
    {
        var f = new ParetoFront();
        f.Add(new("a", 1, 0.5));
        f.Add(new("b", 2, 0.7));
        f.Add(new("c", 4, 0.9));
        // (2-1)*0.5 + (4-2)*0.7 + (5-4)*0.9 with reference (cost 5, quality 0)
        Assert.Equal(2.8, f.Hypervolume(5, 0), 12);
        // reference quality 0.6 clips a; reference cost 3 cuts c out and b's width.
        Assert.Equal((2 - 1) * 0.0 + (3 - 2) * 0.1, f.Hypervolume(3, 0.6), 12);
        Assert.Equal(0, new ParetoFront().Hypervolume(5, 0));
    }

    [Fact]
    public void Incremental_front_equals_the_brute_force_front()
    {
        var rng = new DeterministicRng(3);
        var points = Enumerable.Range(0, 500).Select(i => new ParetoPoint($"p{i}", rng.NextDouble() * 10, rng.NextDouble())).ToList();
        var f = new ParetoFront();
        foreach (var p in points) f.Add(p);
        var brute = points.Where(p => !points.Any(q => q != p && q.Cost <= p.Cost && q.Quality >= p.Quality && (q.Cost < p.Cost || q.Quality > p.Quality)))
            .OrderBy(p => p.Cost).Select(p => p.Id);
        Assert.Equal(brute, f.Points.Select(p => p.Id));
        // Hypervolume by Monte-Carlo-free grid check: the front's area equals the union of its rectangles.
        double grid = 0;
        const int n = 400;
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
            {
                var (c, q) = ((i + 0.5) * 10.0 / n, (j + 0.5) / n);
                if (f.Points.Any(p => p.Cost <= c && p.Quality >= q)) grid += 10.0 / n / n;
            }
        Assert.Equal(grid, f.Hypervolume(10, 0), 1);
    }
}
