using NasCluster.Chaos;
using NasCluster.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace NasCluster.Cluster.Tests.Downing;

/// <summary>
/// The chaos harness in short (the full run and its figures: bench/README.md "chaos"): four SIGKILLs, 3–5 s apart, of random
/// evaluator, trainer and coordinator processes of a PostgreSQL cluster mid-search, each replaced; every trial
/// accounted once, the trajectory equal to an uninterrupted standalone run, nothing left running.
/// </summary>
[Trait("Tier", "slow")]
public sealed class ChaosTests(ITestOutputHelper output)
{
    [Theory]
    [PostgresData]
    public void A_short_chaos_run_loses_nothing_counts_nothing_twice_and_follows_the_uninterrupted_trajectory(string backend)
    {
        Assert.Equal("postgres", backend);
        using var dir = new TestDatabase("sqlite"); // only for its directory
        var options = new ChaosOptions(Environment.GetEnvironmentVariable(TestDatabase.PostgresVariable)!, Path.Combine(dir.Directory, "chaos"))
        {
            Trials = 500,
            Kills = 4,
            Seed = 3,
            Spacing = (3, 5),
            NodeConfig = Nodes.FastFailover,
            Deadline = TimeSpan.FromMinutes(6),
            Log = output.WriteLine,
        };
        ChaosResult result;
        using (var harness = new ChaosHarness(options)) result = harness.Run();
        foreach (var k in result.Kills) output.WriteLine($"{k.AtSeconds:0.0} s {k.Node}: stall {k.StallSeconds:0.0} s");
        Assert.Empty(result.Problems);
        Assert.Equal(4, result.Kills.Count);
    }
}
