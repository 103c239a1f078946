using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.TrainerNode.Worker;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// <c>--proxy-seeds</c> on a real cluster and journal: a trial's seeds go to any free slot on any trainer, each is
/// recorded exactly once with its own seed, a lost write is recovered, and the quality is their mean ± its error.
/// </summary>
public sealed class ProxySeedsClusterTests
{
    /// <summary>A synthetic training whose score moves with the seed it is given, as a real proxy's does.</summary>
    private static TrainerAgentSettings NoisyTrainer(string id, System.Collections.Concurrent.ConcurrentBag<(int Trial, int Unit, long Seed)> seen) =>
        Nodes.SyntheticTrainer(id, 2) with
        {
            Work = w =>
            {
                seen.Add((w.TrialId, w.Unit, w.Seed));
                var noise = (w.Seed % 97 - 48) / 4800.0; // ±1%
                return new ProxyOutcome(true, null, SyntheticQuality.Of(ArchJson.Read(w.ArchitectureJson)) + noise, 0.5, 0.5, 10, 1, 10, 1000, "", null, null);
            },
        };

    [Fact]
    public async Task Each_seed_is_its_own_work_on_any_trainer_recorded_once_and_the_quality_is_their_mean()
    {
        using var db = new TestDatabase("sqlite");
        var seen = new System.Collections.Concurrent.ConcurrentBag<(int Trial, int Unit, long Seed)>();
        await using var coordinator = await Nodes.Start(db.Url, ["coordinator", "evaluator"]);
        var seed = Nodes.Seed(coordinator);
        await using var trainerA = await Nodes.Start(db.Url, ["trainer"], [seed], NoisyTrainer("trainer-a", seen));
        await using var trainerB = await Nodes.Start(db.Url, ["trainer"], [seed], NoisyTrainer("trainer-b", seen));
        const int trials = 24;
        var spec = ExperimentSpecs.Build(Specs.Request("seeds", trials, 6) with { ProxySeeds = 3 });
        var finished = await (await Nodes.StartSearch(coordinator, spec)).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal((trials, 0), (finished.Completed, finished.Failed));

        var events = Journal.Events(db.Target, "seeds");
        Journal.AssertEveryTrialAccountedOnce(events, trials);
        var state = ExperimentStore.Load(db.Target, "seeds").State;
        foreach (var t in state.Trials.Where(t => t.ReusedFrom is null))
        {
            var units = events.OfType<QualityRecorded>().Where(q => q.TrialId == t.Id).OrderBy(q => q.Unit).ToList();
            Assert.Equal([0, 1, 2], units.Select(q => q.Unit));
            Assert.Equal(units.Average(q => q.Score), t.Quality!.Score, 12);
            Assert.True(t.Quality.StandardError > 0, $"trial {t.Id}: the seeds' scores differ, so does the error");
            // Each unit trained with its own seed, the one the spec derives.
            Assert.Equal(Enumerable.Range(0, 3).Select(u => spec.TrainingSeed(t.Id, u)).Order(), seen.Where(x => x.Trial == t.Id).Select(x => x.Seed).Distinct().Order());
        }
        // A trial's seeds were spread over both trainers.
        var workers = events.OfType<QualityRecorded>().GroupBy(q => q.TrialId).Select(g => g.Select(q => q.Worker).Distinct().Count());
        Assert.Contains(workers, n => n == 2);
    }

    [Fact]
    public async Task A_lost_write_of_one_seed_is_recovered_by_a_new_incarnation_and_recorded_once()
    {
        using var db = new TestDatabase("sqlite");
        var failuresBefore = FailingSqlJournal.Failures;
        FailingSqlJournal.FailWhen = e => e is QualityRecorded { TrialId: 4, Unit: 1 };
        try
        {
            await using var node = await ClusterNode.StartAsync(new NasCluster.NodeHosting.NodeOptions { Db = db.Url }, Nodes.SyntheticTrainer("agent", 2),
                FailingSqlJournal.Hocon + "\n" + Nodes.FastFailover, TimeSpan.FromSeconds(60));
            var spec = ExperimentSpecs.Build(Specs.Request("seed-failure", 12, 6) with { ProxySeeds = 2 });
            var finished = await (await Nodes.StartSearch(node, spec)).WaitAsync(TimeSpan.FromSeconds(90));
            Assert.Equal((12, 0), (finished.Completed, finished.Failed));
        }
        finally
        {
            FailingSqlJournal.FailWhen = null;
        }
        Assert.Equal(failuresBefore + 1, FailingSqlJournal.Failures);
        var events = Journal.Events(db.Target, "seed-failure");
        Journal.AssertEveryTrialAccountedOnce(events, 12);
        Assert.Single(events.OfType<QualityRecorded>(), q => q is { TrialId: 4, Unit: 1 });
        Assert.Single(events.OfType<QualityRecorded>(), q => q is { TrialId: 4, Unit: 0 });
        Assert.Contains(events.OfType<DispatchAttempted>(), d => d is { TrialId: 4, Work: WorkKind.Quality, Unit: 1, Attempt: 2 });
    }
}
