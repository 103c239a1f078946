using Akka.Actor;
using Akka.Cluster;
using NasCluster.Cluster.Tests.Support;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Downing;

/// <summary>
/// Real node processes killed with SIGKILL in a cascade, each the moment the cluster has noticed the one before
/// (so the next victim has observed the previous one unreachable: the pattern that made Akka's split-brain
/// resolver down every node, coordinator included). The coordinator stays, downs all of them, a replacement
/// joins, and the search ends with every trial accounted once.
/// </summary>
[Trait("Tier", "slow")]
public sealed class OverlappingCrashTests
{
    [Fact]
    public async Task A_cascade_of_worker_crashes_never_downs_the_coordinator_and_a_replacement_joins()
    {
        using var db = new TestDatabase("sqlite");
        // Fast failure detection (2 s) but a stable-after window three times as long, so that the three crashes
        // below fall inside one window, as they do with the shipped settings (3 s detection, 5 s window) when
        // crashes come a few seconds apart.
        var hocon = Nodes.FastFailover + "\nnascluster.downing.stable-after = 6s\n";
        var config = Path.Combine(db.Directory, "cascade.conf");
        File.WriteAllText(config, hocon);
        await using var coordinator = await Nodes.Start(db.Url, ["coordinator"], extraHocon: hocon);
        var seed = Nodes.Seed(coordinator);
        string[] evaluatorArgs = ["--seed", seed, "--config", config, "--threads", "1", "--work-delay-ms", "20"];
        string[] trainerArgs = ["--seed", seed, "--config", config, "--skip-teacher", "--slots", "2", "--work-delay-ms", "100"];
        using var evaluator1 = await NodeProcess.StartNode("nascluster-evaluator.dll", db.Directory, evaluatorArgs);
        using var evaluator2 = await NodeProcess.StartNode("nascluster-evaluator.dll", db.Directory, evaluatorArgs);
        using var trainer1 = await NodeProcess.StartNode("nascluster-trainer.dll", db.Directory, [.. trainerArgs, "--id", "trainer-1"]);
        using var trainer2 = await NodeProcess.StartNode("nascluster-trainer.dll", db.Directory, [.. trainerArgs, "--id", "trainer-2"]);

        const int trials = 200;
        var spec = Specs.Spec("cascade", trials: trials, batch: 10) with { EvaluationTimeoutMs = 10_000, TrainingTimeoutMs = 10_000 };
        var done = await Nodes.StartSearch(coordinator, spec);
        await Nodes.Until(() => Journal.Count(db.Target, "cascade", "exp-quality-v1") >= 30, TimeSpan.FromMinutes(2), "30 trials done");

        var cluster = Akka.Cluster.Cluster.Get(coordinator.System);
        bool Unreachable(NodeProcess p) => cluster.State.Unreachable.Any(m => m.Address.Equals(p.Address));
        bool Gone(NodeProcess p) => cluster.State.Members.All(m => !m.Address.Equals(p.Address) || m.Status is MemberStatus.Down);

        // evaluator 1, then trainer 1 as soon as the cluster marks evaluator 1 unreachable (trainer 1 has observed
        // it), then evaluator 2 as soon as trainer 1 is marked: three crashes inside one stable-after window.
        evaluator1.Kill();
        await Nodes.Until(() => Unreachable(evaluator1), TimeSpan.FromSeconds(30), "evaluator 1 marked unreachable");
        trainer1.Kill();
        await Nodes.Until(() => Unreachable(trainer1), TimeSpan.FromSeconds(30), "trainer 1 marked unreachable");
        evaluator2.Kill();

        await Nodes.Until(() => Gone(evaluator1) && Gone(trainer1) && Gone(evaluator2), TimeSpan.FromSeconds(60), "the three crashed nodes downed");
        Assert.False(coordinator.System.WhenTerminated.IsCompleted, "the coordinator was downed");
        Assert.Equal(MemberStatus.Up, cluster.State.Members.Single(m => m.Address.Equals(coordinator.Address)).Status);

        // A replacement joins the same cluster (it could not, when the old resolver had downed everyone).
        using var evaluator3 = await NodeProcess.StartNode("nascluster-evaluator.dll", db.Directory, evaluatorArgs);
        var finished = await done.WaitAsync(TimeSpan.FromMinutes(4));
        Assert.Equal((trials, 0), (finished.Completed, finished.Failed));
        var all = Journal.Events(db.Target, "cascade");
        Journal.AssertEveryTrialAccountedOnce(all, trials);
        Assert.Contains(all.OfType<CostRecorded>(), c => c.Node == evaluator3.Address.ToString());
        Assert.False(trainer2.HasExited);
    }
}
