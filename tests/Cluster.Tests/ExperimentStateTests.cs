using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>The ledger as a value: decisions and their events, without actors or journals.</summary>
public sealed class ExperimentStateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nas-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static ExperimentState Apply(ExperimentState s, IEnumerable<IExperimentEvent> events) => events.Aggregate(s, (x, e) => x.Apply(e));

    private static CostSummary Cost(double latency) => new(latency, latency * 0.8, 0.5, 2.0, 0.4, 1_000_000, 300_000_000, 100, 0);

    /// <summary>Records cost and quality for a trial the way the actor does: only what OnCost/OnQuality decide.</summary>
    private static ExperimentState Complete(ExperimentState s, int trial, Space space)
    {
        var network = space.Build(space.FromVector(s.Trials[trial].Vector));
        s = s.Apply(s.OnCost(trial, Cost(1.0 + trial / 100.0), "node-a")!);
        return s.Apply(s.OnQuality(trial, SyntheticQuality.Of(network), 0.1, 1, 10, "agent", null, null)!);
    }

    [Fact]
    public void A_synchronous_batch_is_proposed_whole_and_observed_only_when_every_trial_is_done()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 10, batch: 4));
        var first = s.Next(space, 1);
        var proposed = Assert.IsType<TrialsProposed>(first[0]);
        Assert.Equal(4, proposed.Vectors.Count);
        s = Apply(s, first);
        Assert.Empty(s.Next(space, 2)); // waiting for the batch

        for (var t = 0; t < 3; t++) s = Complete(s, t, space);
        Assert.Empty(s.Next(space, 3)); // three of four: still waiting
        s = Complete(s, 3, space);

        var update = Assert.IsType<ControllerUpdated>(Assert.Single(s.Next(space, 4)));
        Assert.Equal([0, 1, 2, 3], update.TrialIds);
        Assert.All(update.Rewards, r => Assert.InRange(r, 0.5, 1.0));
        s = s.Apply(update);
        Assert.All(s.Trials, t => Assert.True(t.Observed));
        Assert.Equal(4, Assert.IsType<TrialsProposed>(s.Next(space, 5)[0]).FirstTrialId);
    }

    [Fact]
    public void The_last_batch_is_cut_to_the_trial_budget_and_the_experiment_then_finishes()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 6, batch: 4));
        while (!s.Finished)
        {
            var events = s.Next(space, 10);
            if (events.Count == 0)
                foreach (var t in s.Trials.Where(t => !s.IsDone(t)).Select(t => t.Id).ToList()) s = Complete(s, t, space);
            else s = Apply(s, events);
        }
        Assert.Equal(6, s.Trials.Count);
        Assert.Equal(6, s.Completed);
        Assert.Equal(0, s.InFlight);
        Assert.NotNull(s.Best);
        Assert.Empty(s.Next(space, 11));
    }

    [Fact]
    public void A_result_counts_once_duplicate_and_unknown_results_produce_no_event()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 4, batch: 4));
        s = Apply(s, s.Next(space, 1));
        var recorded = s.OnCost(2, Cost(1.2), "node-a");
        Assert.NotNull(recorded);
        s = s.Apply(recorded);
        Assert.Null(s.OnCost(2, Cost(9.9), "node-b"));    // duplicate (another evaluator answered too)
        Assert.Null(s.OnCost(7, Cost(1.0), "node-a"));    // no such trial
        Assert.Null(s.OnCost(-1, Cost(1.0), "node-a"));
        Assert.Equal(1.2, s.Trials[2].Cost!.LatencyMs);   // the first answer stands

        s = s.Apply(s.OnQuality(2, 0.9, 0.1, 1, 10, "agent-a", null, null)!);
        Assert.Null(s.OnQuality(2, 0.1, 0.1, 1, 10, "agent-b", null, null));
        Assert.Equal(0.9, s.Trials[2].Quality!.Score);
    }

    [Fact]
    public void Failed_attempts_are_retried_until_the_limit_then_the_trial_fails_with_the_reason()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 2, batch: 2));
        s = Apply(s, s.Next(space, 1));
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var dispatch = s.Dispatch(0, WorkKind.Quality, "agent", 10);
            Assert.Equal(attempt, dispatch.Attempt);
            s = s.Apply(dispatch);
            var failed = s.OnAttemptFailed(0, WorkKind.Quality, attempt, "deadline passed");
            if (attempt < 3) Assert.Null(failed); // goes out again
            else
            {
                Assert.NotNull(failed);
                Assert.Contains("quality failed 3 times; last: deadline passed", failed.Reason);
                s = s.Apply(failed);
            }
        }
        Assert.True(s.IsFailed(s.Trials[0]));
        Assert.True(s.IsDone(s.Trials[0]));
        Assert.Equal(s.Spec.Reward.InfeasibleReward, s.Reward(s.Trials[0]));
        Assert.Null(s.OnCost(0, Cost(1), "late")); // late results for a failed trial are dropped
        Assert.Null(s.OnQuality(0, 0.9, 0, 0, 0, "late", null, null));
    }

    [Fact]
    public void A_preempted_attempt_is_not_a_failure_its_number_is_reused_and_only_failures_use_up_max_attempts()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 2, batch: 2));
        s = Apply(s, s.Next(space, 1));
        // Five times the trainer holding the attempt leaves the cluster: each time attempt 1 goes out again.
        for (var i = 0; i < 5; i++)
        {
            var dispatch = s.Dispatch(0, WorkKind.Quality, $"trainer-{i}", 10 + i);
            Assert.Equal(1, dispatch.Attempt);
            s = s.Apply(dispatch);
            var preempted = s.OnPreempted(0, WorkKind.Quality, 1, $"trainer-{i}", "its trainer left the cluster");
            Assert.Equal(new AttemptPreempted(0, WorkKind.Quality, 1, $"trainer-{i}", "its trainer left the cluster"), preempted);
            s = s.Apply(preempted!);
        }
        Assert.Equal(0, s.Trials[0].QualityAttempts);
        Assert.Null(s.OnPreempted(0, WorkKind.Quality, 1, "trainer-0", "again")); // nothing out: nothing to preempt
        // Real failures still count to three.
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            s = s.Apply(s.Dispatch(0, WorkKind.Quality, "trainer-9", 100 + attempt));
            var failed = s.OnAttemptFailed(0, WorkKind.Quality, attempt, "diverged");
            if (attempt < 3) Assert.Null(failed);
            else s = s.Apply(Assert.IsType<TrialFailed>(failed));
        }
        Assert.Contains("failed 3 times", s.FailureOf(s.Trials[0]));
        Assert.Null(s.OnPreempted(0, WorkKind.Quality, 3, "trainer-9", "late")); // a failed trial needs nothing
        // A preemption of a superseded attempt gives nothing back.
        s = s.Apply(s.Dispatch(1, WorkKind.Cost, "evaluator", 1));
        s = s.Apply(s.Dispatch(1, WorkKind.Cost, "evaluator", 2));
        Assert.Null(s.OnPreempted(1, WorkKind.Cost, 1, "evaluator", "old"));
        Assert.Equal(2, s.Apply(new AttemptPreempted(1, WorkKind.Cost, 1, "evaluator", "old")).Trials[1].CostAttempts);
    }

    [Fact]
    public void A_stale_attempt_failure_is_ignored_while_a_newer_attempt_is_out()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 2, batch: 2));
        s = Apply(s, s.Next(space, 1));
        s = s.Apply(s.Dispatch(1, WorkKind.Cost, "evaluator", 1));
        s = s.Apply(s.Dispatch(1, WorkKind.Cost, "evaluator", 2));
        Assert.Null(s.OnAttemptFailed(1, WorkKind.Cost, 1, "old deadline"));
        Assert.Null(s.OnAttemptFailed(1, WorkKind.Cost, 2, "current deadline")); // 2 of 3
    }

    [Fact]
    public void An_unpriceable_architecture_fails_at_once()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 2, batch: 2));
        s = Apply(s, s.Next(space, 1));
        s = s.Apply(s.Dispatch(0, WorkKind.Cost, "evaluator", 1));
        var failed = s.OnAttemptFailed(0, WorkKind.Cost, 1, "does not fit the parameter cache", permanent: true);
        Assert.NotNull(failed);
        Assert.Equal("cost: does not fit the parameter cache", failed.Reason);
    }

    [Fact]
    public void A_repeated_architecture_is_not_evaluated_again_but_takes_the_first_trials_result()
    {
        var spec = Specs.Spec(trials: 10, batch: 10, space: Specs.WriteTinySpace(_dir));
        var (s, space) = Specs.Created(spec);
        var events = s.Next(space, 1);
        var reused = events.OfType<TrialReused>().ToList();
        Assert.NotEmpty(reused); // ten draws from four candidates
        s = Apply(s, events);
        foreach (var r in reused)
        {
            Assert.Equal(s.Trials[r.TrialId].Hash, s.Trials[r.SourceTrialId].Hash);
            Assert.True(r.SourceTrialId < r.TrialId);
            Assert.False(s.Needs(s.Trials[r.TrialId], WorkKind.Cost));
            Assert.False(s.Needs(s.Trials[r.TrialId], WorkKind.Quality));
        }
        var distinct = s.Trials.Where(t => t.ReusedFrom is null).Select(t => t.Id).ToList();
        Assert.Equal(s.Trials.Select(t => t.Hash).Distinct().Count(), distinct.Count);
        foreach (var id in distinct) s = Complete(s, id, space);
        Assert.Equal(10, s.Completed);
        foreach (var r in reused) Assert.Equal(s.Reward(s.Trials[r.SourceTrialId]), s.Reward(s.Trials[r.TrialId]));
        Assert.All(s.Front(Coordinator.Rewards.CostMetric.LatencyMs).Points, p => Assert.Null(s.Trials[int.Parse(p.Id)].ReusedFrom)); // counted once
    }

    [Fact]
    public void Asynchronous_mode_refills_the_batch_as_results_arrive()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 10, batch: 4, asynchronous: true));
        s = Apply(s, s.Next(space, 1));
        Assert.Equal(4, s.Trials.Count);
        s = Complete(s, 2, space);
        var update = Assert.IsType<ControllerUpdated>(Assert.Single(s.Next(space, 2)));
        Assert.Equal([2], update.TrialIds);
        s = s.Apply(update);
        var refill = Assert.IsType<TrialsProposed>(s.Next(space, 3)[0]);
        Assert.Single(refill.Vectors); // one slot freed, one trial proposed
        Assert.Equal(4, refill.FirstTrialId);
    }

    [Fact]
    public void The_snapshot_form_round_trips_every_field()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 8, batch: 4));
        s = Apply(s, s.Next(space, 1));
        s = Complete(s, 0, space);
        s = s.Apply(s.Dispatch(1, WorkKind.Cost, "evaluator", 5));
        s = s.Apply(new TrialFailed(3, "quality failed 3 times; last: boom"));
        var json = NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(s));
        var back = ExperimentSnapshotCodec.FromSnapshot(NasSerializer.FromBytes(json, NasSerializer.Manifests[typeof(ExperimentSnapshotV2)]));
        Assert.Equal(json, NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(back)));
        Assert.Equal(s.Unobserved, back.Unobserved);
        Assert.Equal(s.FirstByHash.OrderBy(kv => kv.Key), back.FirstByHash.OrderBy(kv => kv.Key));
        var (a, b) = (s.Tally(), back.Tally());
        Assert.Equal((a.Completed, a.Failed, a.InFlight, a.Reused, a.BestReward, a.BestTrial?.Id), (b.Completed, b.Failed, b.InFlight, b.Reused, b.BestReward, b.BestTrial?.Id));
        Assert.Equal(s.Next(space, 9).Count, back.Next(space, 9).Count);
    }
}
