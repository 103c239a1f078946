using System.Text;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// <c>--proxy-seeds K</c> in the ledger: each of a trial's K trainings is its own unit of work — dispatched,
/// attempted, recorded, preempted and failed on its own, exactly once — and the trial's quality is their mean
/// with its standard error once all are in.
/// </summary>
public sealed class ProxySeedsTests
{
    private static CostSummary Cost(double latency) => new(latency, latency * 0.8, 0.5, 2.0, 0.4, 1_000_000, 300_000_000, 100, 0);

    private static ExperimentState Proposed(int seeds, int trials = 4)
    {
        var spec = ExperimentSpecs.Build(Specs.Request("seeds", trials, trials) with { ProxySeeds = seeds, Mode = SearchMode.Synchronous });
        var (s, space) = Specs.Created(spec);
        return s.Next(space, 1).Aggregate(s, (x, e) => x.Apply(e));
    }

    [Fact]
    public void A_trials_quality_is_the_mean_of_its_seeds_once_every_one_is_in_with_its_standard_error()
    {
        var s = Proposed(seeds: 3);
        Assert.Equal(3, s.Spec.Seeds);
        var t = s.Trials[0];
        Assert.Equal(3, t.Units.Length);
        Assert.Equal([0, 1, 2], s.UnitsNeeded(t));
        s = s.Apply(s.OnCost(0, Cost(1.0), "node")!);
        // Results arrive in any order, each recorded once; a duplicate of a recorded unit is dropped.
        s = s.Apply(s.OnQuality(0, 0.80, 0.5, 10, 20, "a", "/w/a", "sha-a", unit: 2)!);
        Assert.Null(s.OnQuality(0, 0.81, 0.5, 10, 20, "a", null, null, unit: 2));
        s = s.Apply(s.OnQuality(0, 0.84, 0.4, 12, 18, "b", "/w/b", "sha-b", unit: 0)!);
        Assert.Null(s.Trials[0].Quality); // two of three
        Assert.False(s.IsDone(s.Trials[0]));
        Assert.Equal([1], s.UnitsNeeded(s.Trials[0]));
        s = s.Apply(s.OnQuality(0, 0.82, 0.6, 11, 19, "a", "/w/c", "sha-c", unit: 1)!);
        var q = s.Trials[0].Quality!;
        Assert.True(s.IsDone(s.Trials[0]));
        Assert.Equal(0.82, q.Score, 12);
        Assert.Equal(0.02 / Math.Sqrt(3), q.StandardError, 12); // sample sd 0.02 over 3 seeds
        Assert.Equal([0.84, 0.82, 0.80], q.Scores);
        Assert.Equal((33.0, "b", "/w/b"), (q.WallSeconds, q.Worker, q.WeightsPath)); // compute summed; the first seed's weights
        Assert.Equal(0.82, s.Measurement(s.Trials[0])!.Quality, 12);
        Assert.Null(s.OnQuality(0, 0.9, 0.5, 10, 20, "a", null, null, unit: 3)); // no such unit
    }

    [Fact]
    public void Each_seed_has_its_own_attempts_preemptions_and_seed_and_a_seed_that_keeps_failing_fails_the_trial()
    {
        var s = Proposed(seeds: 2);
        var d0 = s.Dispatch(0, WorkKind.Quality, "a", 1, unit: 0);
        var d1 = s.Dispatch(0, WorkKind.Quality, "b", 1, unit: 1);
        Assert.Equal((1, 1, 0, 1), (d0.Attempt, d1.Attempt, d0.Unit, d1.Unit));
        s = s.Apply(d0).Apply(d1);
        Assert.Equal<int>([1, 1], s.Trials[0].UnitAttempts);
        Assert.NotEqual(s.Spec.TrainingSeed(0, 0), s.Spec.TrainingSeed(0, 1));
        Assert.Equal(s.Spec.Seed, s.Spec.TrainingSeed(0, 0)); // the first seed is the one trials always had
        // Preempting seed 1 gives its attempt back, seed 0 keeps its own.
        s = s.Apply(s.OnPreempted(0, WorkKind.Quality, 1, "b", "left", unit: 1)!);
        Assert.Equal<int>([1, 0], s.Trials[0].UnitAttempts);
        Assert.Null(s.OnPreempted(0, WorkKind.Quality, 1, "b", "left", unit: 1)); // once
        for (var attempt = 1; attempt <= s.Spec.MaxAttempts; attempt++)
        {
            var d = s.Dispatch(0, WorkKind.Quality, "b", 2, unit: 1);
            Assert.Equal(attempt, d.Attempt);
            s = s.Apply(d);
            var failed = s.OnAttemptFailed(0, WorkKind.Quality, attempt, "diverged", unit: 1);
            if (attempt < s.Spec.MaxAttempts) Assert.Null(failed);
            else s = s.Apply(Assert.IsType<TrialFailed>(failed));
        }
        Assert.Equal($"quality (seed 2 of 2) failed {s.Spec.MaxAttempts} times; last: diverged", s.Trials[0].Failure);
        Assert.True(s.IsFailed(s.Trials[0]));
        Assert.Empty(s.UnitsNeeded(s.Trials[0]));
    }

    [Fact]
    public void The_scheduler_sends_a_trials_seeds_to_any_free_slots_at_once()
    {
        var s = Proposed(seeds: 3, trials: 2);
        var scheduler = new TrialScheduler();
        scheduler.DispatchEvaluations(s, 1);
        Assert.Equal([new QualityWork(0, 0), new QualityWork(0, 1), new QualityWork(0, 2), new QualityWork(1, 0), new QualityWork(1, 1), new QualityWork(1, 2)],
            scheduler.QueuedWork);
        scheduler.AgentAvailable("a", 2, sameIncarnation: false);
        scheduler.AgentAvailable("b", 2, sameIncarnation: false);
        var out1 = scheduler.AssignTrainings(s, 2);
        Assert.Equal([(0, 0), (0, 1), (0, 2), (1, 0)], out1.Select(d => (d.TrialId, d.Unit)));
        Assert.Equal(2, out1.Select(d => d.Worker).Distinct().Count()); // one trial's seeds on both agents
        s = out1.Aggregate(s, (x, d) => x.Apply(d));
        Assert.All(out1, d => Assert.True(scheduler.IsCurrent(d)));
        // A refusal puts only that seed back; an answer frees only its slot.
        Assert.True(scheduler.Refused(0, 1, unit: 1));
        Assert.Equal([new QualityWork(0, 1), new QualityWork(1, 1), new QualityWork(1, 2)], scheduler.QueuedWork);
        var worker = out1.Single(d => d.TrialId == 0 && d.Unit == 2).Worker;
        Assert.True(scheduler.TrainingAnswered(0, worker, unit: 2));
        Assert.False(scheduler.TrainingAnswered(0, worker, unit: 2));
        var left = scheduler.AgentLeft(out1[0].Worker);
        Assert.All(left, l => Assert.Equal(out1[0].Worker, out1.Single(d => d.TrialId == l.Work.Trial && d.Unit == l.Work.Unit).Worker));
    }

    [Fact]
    public void A_snapshot_keeps_every_seed_and_reads_back_to_the_same_ledger()
    {
        var s = Proposed(seeds: 3, trials: 2);
        s = s.Apply(s.OnCost(0, Cost(1.0), "node")!);
        s = s.Apply(s.Dispatch(0, WorkKind.Quality, "a", 5, unit: 1));
        s = s.Apply(s.OnQuality(0, 0.7, 0.5, 10, 20, "a", null, null, unit: 1)!);
        var bytes = NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(s));
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains("\"seeds\":[null,{", text, StringComparison.Ordinal);
        Assert.Contains("\"seed_attempts\":[0,1,0]", text, StringComparison.Ordinal);
        var back = ExperimentSnapshotCodec.FromSnapshot(NasSerializer.FromBytes(bytes, "exp-snapshot-v2"));
        Assert.Equal(bytes, NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(back)));
        Assert.Equal(0.7, back.Trials[0].Units[1]!.Score);
        Assert.Equal([0, 2], back.UnitsNeeded(back.Trials[0]));
        Assert.Equal<int>([0, 1, 0], back.Trials[0].UnitAttempts);
        // One seed per trial writes what it always wrote: no seed fields.
        var single = Proposed(seeds: 1, trials: 1);
        Assert.DoesNotContain("\"seeds\":", Encoding.UTF8.GetString(NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(single))), StringComparison.Ordinal);
        Assert.DoesNotContain("proxy_seeds", Encoding.UTF8.GetString(NasSerializer.ToBytes(new ExperimentCreated(single.Spec, "c", 1))), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "--proxy-seeds must be 1–16 (got 0)")]
    [InlineData(17, "--proxy-seeds must be 1–16 (got 17)")]
    public void The_number_of_seeds_is_checked(int seeds, string message) =>
        Assert.Contains(message, Assert.ThrowsAny<NasCluster.Shared.Util.NasInputException>(() =>
            ExperimentSpecs.Build(Specs.Request("seeds") with { ProxySeeds = seeds })).Message);

    [Fact]
    public void The_ledger_audit_counts_each_seed_once()
    {
        var spec = ExperimentSpecs.Build(Specs.Request("seeds", 1, 1) with { ProxySeeds = 2 });
        var (created, _) = Specs.Created(spec);
        IExperimentEvent[] Events(params int[] units) =>
        [
            new ExperimentCreated(spec, created.ControllerState, 1), new TrialsProposed(0, [[0]], ["h"], "c"), new CostRecorded(0, Cost(1), "n"),
            .. units.Select(u => (IExperimentEvent)new QualityRecorded(0, 0.5, 0, 1, 1, "a", null, null, u)),
            new ControllerUpdated([0], [0.5], "c"), new ExperimentFinished(2),
        ];
        Assert.Empty(LedgerAudit.Check(Events(0, 1), 1));
        Assert.Contains("trial 0: 2 qualities recorded for seed 2", LedgerAudit.Check(Events(0, 1, 1), 1));
        Assert.Contains(LedgerAudit.Check(Events(0), 1), p => p.StartsWith("trial 0: cost 1, quality 0", StringComparison.Ordinal));
    }
}
