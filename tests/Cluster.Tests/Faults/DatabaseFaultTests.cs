using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Faults;

/// <summary>The experiment database going away mid-search and coming back.</summary>
[Trait("Tier", "slow")]
public sealed class DatabaseFaultTests
{
    [Theory]
    [PostgresData] // its own server (the shared one stays up for the other tests)
    public async Task A_postgres_server_stopped_for_ten_seconds_mid_search_pauses_the_search_which_then_continues_losing_and_doubling_nothing(string backend)
    {
        Assert.Equal("postgres", backend);
        using var pg = new PrivatePostgres();
        var db = NodeConfig.ParseDb(pg.Url);
        await using var coordinator = await Nodes.Start(pg.Url, ["coordinator"]);
        var seed = Nodes.Seed(coordinator);
        await using var evaluator = await Nodes.Start(pg.Url, ["evaluator"], [seed], pricer: Nodes.SlowPricer(5));
        await using var trainer = await Nodes.Start(pg.Url, ["trainer"], [seed], Nodes.SyntheticTrainer("trainer-1", 2, delayMs: 10));

        const int trials = 400;
        var reference = await Nodes.StartSearch(coordinator, Specs.Spec("reference", trials: trials, batch: 10, seed: 9));
        await reference.WaitAsync(TimeSpan.FromMinutes(3));
        _ = await Nodes.StartSearch(coordinator, Specs.Spec("outage", trials: trials, batch: 10, seed: 9));
        await Nodes.Until(() => Journal.Count(db, "outage", "exp-quality-v1") >= 80, TimeSpan.FromMinutes(2), "80 trials before the outage");

        pg.Stop();
        await Task.Delay(TimeSpan.FromSeconds(10)); // the fault itself lasts ten seconds (not a wait for a condition)
        pg.Start();

        await Nodes.Until(() => ExperimentStore.Load(db, "outage").State.Finished, TimeSpan.FromMinutes(4), "the search finished after the outage");
        var events = Journal.Events(db, "outage");
        Journal.AssertEveryTrialAccountedOnce(events, trials);
        var outage = ExperimentStore.Load(db, "outage").State;
        var clean = ExperimentStore.Load(db, "reference").State;
        Assert.Equal(clean.Trials.Select(t => t.Hash), outage.Trials.Select(t => t.Hash));
        Assert.Equal(clean.Trials.Select(t => clean.Reward(t)), outage.Trials.Select(t => outage.Reward(t)));
        Assert.Equal(clean.ControllerState, outage.ControllerState);
    }
}
