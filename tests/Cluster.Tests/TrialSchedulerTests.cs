using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>The scheduling rules, one by one, without actors: who gets which work, and what ends an attempt.</summary>
public sealed class TrialSchedulerTests
{
    /// <summary>A proposed batch of <paramref name="trials"/> trials, nothing dispatched yet.</summary>
    private static ExperimentState Proposed(int trials)
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: trials, batch: trials));
        return s.Next(space, 1).Aggregate(s, (x, e) => x.Apply(e));
    }

    private static ExperimentState Apply(ExperimentState s, IEnumerable<IExperimentEvent> events) => events.Aggregate(s, (x, e) => x.Apply(e));

    private static CostSummary Cost => new(1, 1, 1, 1, 0.5, 1000, 1000, 0, 0);

    [Fact]
    public void Every_trial_that_needs_a_cost_gets_one_evaluation_and_no_second_while_one_is_out()
    {
        var s = Proposed(3);
        var scheduler = new TrialScheduler();
        var first = scheduler.DispatchEvaluations(s, 10);
        Assert.Equal([0, 1, 2], first.Select(d => d.TrialId));
        Assert.All(first, d => Assert.Equal((WorkKind.Cost, 1, "evaluator", 10L), (d.Work, d.Attempt, d.Worker, d.AtUnixMs)));
        s = Apply(s, first);
        Assert.Empty(scheduler.DispatchEvaluations(s, 11)); // all out
        Assert.Equal([0, 1, 2], scheduler.Queue); // the trainings wait for an agent, in trial order
    }

    [Fact]
    public void A_training_goes_to_the_agent_with_the_most_free_slots_and_ties_go_to_the_lowest_id()
    {
        var s = Proposed(4);
        var scheduler = new TrialScheduler();
        scheduler.DispatchEvaluations(s, 1);
        scheduler.AgentAvailable("b", 2, sameIncarnation: false);
        scheduler.AgentAvailable("a", 1, sameIncarnation: false);
        var assigned = scheduler.AssignTrainings(s, 2);
        Assert.Equal([(0, "b"), (1, "a"), (2, "b")], assigned.Select(d => (d.TrialId, d.Worker)));
        Assert.All(assigned, d => Assert.Equal((WorkKind.Quality, 1), (d.Work, d.Attempt)));
        Assert.Equal([3], scheduler.Queue); // no slot left
        Assert.Equal(new Dictionary<string, int> { ["a"] = 0, ["b"] = 0 }, scheduler.FreeSlots);
    }

    [Fact]
    public void An_agent_that_refuses_counts_as_full_until_it_answers_and_the_refused_work_goes_first()
    {
        var s = Proposed(3);
        var scheduler = new TrialScheduler();
        scheduler.DispatchEvaluations(s, 1);
        scheduler.AgentAvailable("a", 2, sameIncarnation: false);
        s = Apply(s, scheduler.AssignTrainings(s, 2)); // trials 0 and 1 on a
        Assert.False(scheduler.Refused(0, attempt: 2)); // not the attempt that is out
        Assert.True(scheduler.Refused(0, attempt: 1));
        Assert.Equal([0, 2], scheduler.Queue);
        Assert.Equal(0, scheduler.FreeSlots["a"]); // full, although one of its two slots is free by count
        Assert.Empty(scheduler.AssignTrainings(s, 3));

        Assert.True(scheduler.TrainingAnswered(1, "a")); // it answers: free again, and has two slots
        Assert.Equal(2, scheduler.FreeSlots["a"]);
        var next = scheduler.AssignTrainings(s, 4);
        Assert.Equal([(0, 2), (2, 1)], next.Select(d => (d.TrialId, d.Attempt)));
    }

    [Fact]
    public void A_periodic_registration_lifts_a_refusal_and_a_new_incarnation_starts_with_nothing_out()
    {
        var s = Proposed(2);
        var scheduler = new TrialScheduler();
        scheduler.DispatchEvaluations(s, 1);
        scheduler.AgentAvailable("a", 1, sameIncarnation: false);
        s = Apply(s, scheduler.AssignTrainings(s, 2));
        scheduler.Refused(0, 1);
        scheduler.AgentAvailable("a", 3, sameIncarnation: true);
        Assert.Equal(3, scheduler.FreeSlots["a"]);
        s = Apply(s, scheduler.AssignTrainings(s, 3));
        Assert.Equal(1, scheduler.FreeSlots["a"]);
        scheduler.AgentAvailable("a", 3, sameIncarnation: false); // restarted under the same id
        Assert.Equal(3, scheduler.FreeSlots["a"]);
    }

    [Fact]
    public void An_agent_that_leaves_has_its_trainings_put_back_at_the_front_at_once()
    {
        var s = Proposed(4);
        var scheduler = new TrialScheduler();
        scheduler.DispatchEvaluations(s, 1);
        scheduler.AgentAvailable("a", 2, sameIncarnation: false);
        s = Apply(s, scheduler.AssignTrainings(s, 2)); // 0 and 1 on a; 2 and 3 wait
        var left = scheduler.AgentLeft("a");
        Assert.Equal([(new QualityWork(0), (int?)1), (new QualityWork(1), 1)], left);
        Assert.Equal([0, 1, 2, 3], scheduler.Queue);
        Assert.Empty(scheduler.TrainingsInFlight);
        Assert.Empty(scheduler.AgentLeft("a")); // once
        scheduler.AgentAvailable("b", 1, sameIncarnation: false);
        // The actor records the attempts as preempted, which gives their numbers back: trial 0 goes out as attempt 1 again.
        s = left.Aggregate(s, (x, l) => x.Apply(x.OnPreempted(l.Work.Trial, WorkKind.Quality, l.Attempt!.Value, "a", "its trainer left the cluster")!));
        Assert.Equal([(0, 1, "b")], scheduler.AssignTrainings(s, 3).Select(d => (d.TrialId, d.Attempt, d.Worker)));
    }

    [Fact]
    public void A_dispatch_whose_agent_left_while_it_was_persisted_is_not_sent()
    {
        var s = Proposed(1);
        var scheduler = new TrialScheduler();
        var cost = Assert.Single(scheduler.DispatchEvaluations(s, 1));
        scheduler.AgentAvailable("a", 1, sameIncarnation: false);
        var training = Assert.Single(scheduler.AssignTrainings(s, 2));
        Assert.True(scheduler.IsCurrent(cost));
        Assert.True(scheduler.IsCurrent(training));
        scheduler.AgentLeft("a");
        Assert.False(scheduler.IsCurrent(training));
    }

    [Fact]
    public void Only_the_current_attempt_ends_by_a_failure_or_a_deadline_and_ending_it_frees_the_slot()
    {
        var s = Proposed(1);
        var scheduler = new TrialScheduler();
        s = Apply(s, scheduler.DispatchEvaluations(s, 1));
        Assert.False(scheduler.EndAttempt(WorkKind.Cost, 0, attempt: 2));
        Assert.True(scheduler.EndAttempt(WorkKind.Cost, 0, attempt: 1));
        Assert.False(scheduler.EndAttempt(WorkKind.Cost, 0, attempt: 1)); // once
        Assert.Equal(2, Assert.Single(scheduler.DispatchEvaluations(s, 2)).Attempt); // the next attempt

        scheduler.AgentAvailable("a", 1, sameIncarnation: false);
        s = Apply(s, scheduler.AssignTrainings(s, 3));
        Assert.Equal(0, scheduler.FreeSlots["a"]);
        Assert.True(scheduler.EndAttempt(WorkKind.Quality, 0, attempt: 1));
        Assert.Equal(1, scheduler.FreeSlots["a"]);
    }

    [Fact]
    public void A_late_answer_from_another_agent_frees_that_agents_slot_but_leaves_the_current_attempt_out()
    {
        var s = Proposed(1);
        var scheduler = new TrialScheduler();
        scheduler.DispatchEvaluations(s, 1);
        scheduler.AgentAvailable("a", 1, sameIncarnation: false);
        scheduler.AgentAvailable("b", 1, sameIncarnation: false);
        s = Apply(s, scheduler.AssignTrainings(s, 2)); // on a
        scheduler.EndAttempt(WorkKind.Quality, 0, 1); // a missed the deadline
        scheduler.DispatchEvaluations(s, 3); // queues the training again
        scheduler.AgentAvailable("a", 1, sameIncarnation: true);
        var again = Assert.Single(scheduler.AssignTrainings(s, 4));
        Assert.Equal(("a", 2), (again.Worker, again.Attempt)); // most free slots tie: lowest id
        Assert.False(scheduler.TrainingAnswered(0, "b")); // b never had it
        Assert.True(scheduler.TrainingAnswered(0, "a"));
    }

    [Fact]
    public void A_result_being_recorded_is_neither_asked_for_again_nor_accepted_twice()
    {
        var s = Proposed(1);
        var scheduler = new TrialScheduler();
        s = Apply(s, scheduler.DispatchEvaluations(s, 1));
        Assert.True(scheduler.BeginRecording(WorkKind.Cost, 0));
        Assert.False(scheduler.BeginRecording(WorkKind.Cost, 0)); // a duplicate answer while the first is persisted
        Assert.True(scheduler.EndAttempt(WorkKind.Cost, 0, 1)); // e.g. its deadline fires meanwhile
        Assert.Empty(scheduler.DispatchEvaluations(s, 2)); // still not asked for again
        s = s.Apply(s.OnCost(0, Cost, "node")!);
        Assert.False(scheduler.Recorded(WorkKind.Cost, 0)); // nothing was out any more: no deadline to cancel
        Assert.False(scheduler.IsRecording(WorkKind.Cost, 0));
        Assert.Empty(scheduler.DispatchEvaluations(s, 3));
    }

    [Fact]
    public void Deadlines_double_with_each_retry_up_to_sixty_four_times_the_base()
    {
        Assert.Equal([1, 2, 4, 8, 64, 64], new[] { 1, 2, 3, 4, 7, 20 }.Select(a => TrialScheduler.Timeout(1000, a).TotalSeconds));
    }
}
