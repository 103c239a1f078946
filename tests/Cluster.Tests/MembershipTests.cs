using Akka.Actor;
using Akka.Cluster.Sharding;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Shared.Architecture;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>Several ActorSystems on 127.0.0.1 in this process: nodes that join a running search take part in it.</summary>
[Trait("Tier", "slow")]
public sealed class MembershipTests
{
    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task Evaluator_and_trainer_nodes_added_mid_search_receive_shards_and_work_and_the_search_completes(string backend)
    {
        using var db = new TestDatabase(backend);
        // The first trainer stalls after 40 items until the new nodes have proved themselves, so the search is
        // certainly still running when they join, and what happens next does not depend on timing. Asynchronous
        // mode, so that trials the new trainer finishes make room for new ones, whose evaluator entities land in
        // shards allocated to (or rebalanced onto) the new, least-loaded evaluator region.
        using var gate = new ManualResetEventSlim(false);
        var trained = 0;
        var trainerA = Nodes.SyntheticTrainer("trainer-a", 1) with
        {
            Work = w =>
            {
                if (Interlocked.Increment(ref trained) > 40) gate.Wait(TimeSpan.FromMinutes(2));
                return new ProxyOutcome(true, null, SyntheticQuality.Of(ArchJson.Read(w.ArchitectureJson)), 0, 0, 0, 0, 0, 0, "", null, null);
            },
        };

        await using var coordinator = await Nodes.Start(db.Url, ["coordinator"]);
        var seed = Nodes.Seed(coordinator);
        await using var evaluatorA = await Nodes.Start(db.Url, ["evaluator"], [seed], pricer: Nodes.SlowPricer(2));
        await using var trainerNodeA = await Nodes.Start(db.Url, ["trainer"], [seed], trainerA);

        const int trials = 300;
        var done = await Nodes.StartSearch(coordinator, Specs.Spec("elastic", trials: trials, batch: 10, asynchronous: true));
        await Nodes.Until(() => Journal.Count(db.Target, "elastic", "exp-quality-v1") >= 30, TimeSpan.FromSeconds(60), "30 trials on the first nodes");

        await using var evaluatorB = await Nodes.Start(db.Url, ["evaluator"], [seed], pricer: Nodes.SlowPricer(2));
        await using var trainerNodeB = await Nodes.Start(db.Url, ["trainer"], [seed], Nodes.SyntheticTrainer("trainer-b", 1));
        var b = evaluatorB.Address.ToString();

        // The new evaluator node hosts shards (new entities go to the least-loaded region; the rebalancer moves
        // more), and the new nodes do work while the first ones are stalled.
        await Nodes.Until(() => ShardsOf(evaluatorB).Count > 0, TimeSpan.FromSeconds(60), "shards on the new evaluator node");
        await Nodes.Until(() =>
        {
            var events = Journal.Events(db.Target, "elastic");
            return events.OfType<CostRecorded>().Count(c => c.Node == b) >= 5 && events.OfType<QualityRecorded>().Count(q => q.Worker == "trainer-b") >= 5;
        }, TimeSpan.FromSeconds(90), "work done by the new nodes");
        Assert.False(done.IsCompleted);
        gate.Set();

        var finished = await done.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Equal((trials, 0), (finished.Completed, finished.Failed));
        var all = Journal.Events(db.Target, "elastic");
        Journal.AssertEveryTrialAccountedOnce(all, trials);
        Assert.Contains(all.OfType<CostRecorded>(), c => c.Node == evaluatorA.Address.ToString());
        Assert.Contains(all.OfType<QualityRecorded>(), q => q.Worker == "trainer-a");

    }

    private static IReadOnlyCollection<string> ShardsOf(Coordinator.Hosting.ClusterNode node)
    {
        var state = node.Evaluators.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        return state.Shards.Select(s => s.ShardId).ToList();
    }
}
