using Akka.Cluster;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Hosting;
using Xunit.Abstractions;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Downing;

/// <summary>
/// Two coordinators; the one that hosts the registry is a real process, killed with SIGKILL mid-search. The
/// other takes over without a command — it wins the referee lease, downs the dead one, the registry singleton
/// starts on it and resumes the experiment from its record — and the search continues exactly: the same
/// trajectory as an uninterrupted run, every trial accounted once.
/// </summary>
[Trait("Tier", "slow")]
public sealed class CoordinatorFailoverTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task Killing_the_coordinator_that_holds_the_registry_moves_every_running_experiment_to_the_other_and_it_continues_exactly(string backend)
    {
        using var db = new TestDatabase(backend);
        var config = Nodes.WriteFastFailoverConfig(db.Directory);
        using var first = await NodeProcess.StartNode("nascluster.dll", db.Directory, "coordinator", "--db", db.Url, "--config", config);
        var seed = $"{first.Address.Host}:{first.Address.Port}";
        await using var second = await Nodes.Start(db.Url, ["coordinator"], [seed]);
        await using var evaluator = await Nodes.Start(db.Url, ["evaluator"], [seed], pricer: Nodes.SlowPricer(5));
        await using var trainer = await Nodes.Start(db.Url, ["trainer"], [seed], Nodes.SyntheticTrainer("trainer-1", 2, delayMs: 10));

        const int trials = 300;
        var reference = await Nodes.StartSearch(second, Specs.Spec("reference", trials: trials, batch: 10, seed: 5));
        Assert.Equal((trials, 0), ((await reference.WaitAsync(TimeSpan.FromMinutes(3))).Completed, 0));

        _ = await Nodes.StartSearch(second, Specs.Spec("failover", trials: trials, batch: 10, seed: 5));
        await Nodes.Until(() => Journal.Count(db.Target, "failover", "exp-quality-v1") >= 60, TimeSpan.FromMinutes(2), "60 trials before the kill");
        first.Kill(); // returns once the process is gone: every event after this is the survivor's
        var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        await Nodes.Until(() => ExperimentStore.Load(db.Target, "failover").State.Finished, TimeSpan.FromMinutes(3),
            "the experiment finished on the surviving coordinator");
        var events = Journal.Events(db.Target, "failover");
        var resumedAt = events.OfType<DispatchAttempted>().First(d => d.AtUnixMs > killedAt).AtUnixMs;
        output.WriteLine($"first dispatch after the kill: {(resumedAt - killedAt) / 1000.0:0.0} s");

        // The survivor is the cluster now: the dead one downed, the registry here.
        var cluster = Akka.Cluster.Cluster.Get(second.System);
        Assert.DoesNotContain(cluster.State.Members, m => m.Address.Equals(first.Address) && m.Status != MemberStatus.Down);
        Assert.Equal(MemberStatus.Up, cluster.State.Members.Single(m => m.Address.Equals(second.Address)).Status);

        Journal.AssertEveryTrialAccountedOnce(events, trials);
        var failover = ExperimentStore.Load(db.Target, "failover").State;
        var clean = ExperimentStore.Load(db.Target, "reference").State;
        Assert.Equal(clean.Trials.Select(t => t.Hash), failover.Trials.Select(t => t.Hash));
        Assert.Equal(clean.Trials.Select(t => clean.Reward(t)), failover.Trials.Select(t => failover.Reward(t)));
        Assert.Equal(clean.ControllerState, failover.ControllerState);
    }
}
