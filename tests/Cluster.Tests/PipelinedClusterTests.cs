using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Hosting;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// Pipelined mode on a real cluster: one node doing everything and a coordinator with four evaluator nodes
/// and two trainer nodes of different speeds follow the same trajectory for the same seed, batch and window.
/// </summary>
[Trait("Tier", "slow")]
public sealed class PipelinedClusterTests
{
    /// <summary>Each node its own speed, so results come back in a different order than on one node.</summary>
    private static Func<Evaluate, CostSummary> Pricer(int delayMs) => Nodes.SlowPricer(delayMs);

    [Fact]
    public async Task One_node_and_four_evaluator_nodes_follow_the_same_pipelined_trajectory()
    {
        using var db = new TestDatabase("sqlite");
        var spec = Specs.Spec("pipelined", trials: 80, batch: 5, seed: 21, mode: SearchMode.Pipelined, window: 15);

        await using (var alone = await Nodes.Start(db.Url, ["coordinator", "evaluator", "trainer"], trainer: Nodes.SyntheticTrainer("alone", 1), pricer: Pricer(1)))
        {
            var done = await (await Nodes.StartSearch(alone, spec)).WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal((80, 0), (done.Completed, done.Failed));
        }

        var spread = spec with { Name = "pipelined-spread" };
        await using var coordinator = await Nodes.Start(db.Url, ["coordinator"]);
        var seed = Nodes.Seed(coordinator);
        var starting = Enumerable.Range(0, 4).Select(i => Nodes.Start(db.Url, ["evaluator"], [seed], pricer: Pricer(1 + 3 * i)))
            .Append(Nodes.Start(db.Url, ["trainer"], [seed], Nodes.SyntheticTrainer("fast", 2)))
            .Append(Nodes.Start(db.Url, ["trainer"], [seed], Nodes.SyntheticTrainer("slow", 2, delayMs: 7)))
            .ToList();
        try
        {
            await Task.WhenAll(starting);
            var done = await (await Nodes.StartSearch(coordinator, spread)).WaitAsync(TimeSpan.FromMinutes(3));
            Assert.Equal((80, 0), (done.Completed, done.Failed));
        }
        finally
        {
            await Task.WhenAll(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result.DisposeAsync().AsTask()));
        }

        var one = ExperimentStore.Load(db.Target, "pipelined").State;
        var four = ExperimentStore.Load(db.Target, "pipelined-spread").State;
        var events = Journal.Events(db.Target, "pipelined-spread");
        Journal.AssertEveryTrialAccountedOnce(events, 80);
        Assert.True(events.OfType<ExperimentProtocol.CostRecorded>().Select(c => c.Node).Distinct().Count() >= 2, "the work was spread over evaluator nodes");
        Assert.Equal(one.Trials.Select(t => string.Join(',', t.Vector)), four.Trials.Select(t => string.Join(',', t.Vector)));
        Assert.Equal(one.Trials.Select(t => one.Reward(t)), four.Trials.Select(t => four.Reward(t)));
        Assert.Equal(one.ControllerState, four.ControllerState);
    }
}
