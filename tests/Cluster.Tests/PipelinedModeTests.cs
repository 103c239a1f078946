using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// Pipelined mode as a value: batches observed in trial order while a window of trials is in flight, and
/// one trajectory per seed, batch and window whatever order the results come back in.
/// </summary>
public sealed class PipelinedModeTests
{
    private static ExperimentState Apply(ExperimentState s, IEnumerable<IExperimentEvent> events) => events.Aggregate(s, (x, e) => x.Apply(e));

    private static CostSummary Cost(int trial) => new(1.0 + trial / 100.0, 0.8, 0.5, 2.0, 0.4, 1_000_000, 300_000_000, 100, 0);

    private static ExperimentState Complete(ExperimentState s, int trial, Space space)
    {
        var network = space.Build(space.FromVector(s.Trials[trial].Vector));
        s = s.Apply(s.OnCost(trial, Cost(trial), "node-a")!);
        return s.Apply(s.OnQuality(trial, SyntheticQuality.Of(network), 0.1, 1, 10, "agent", null, null)!);
    }

    private static ExperimentState Drive(ExperimentState s, Space space)
    {
        for (var events = s.Next(space, 1); events.Count > 0; events = s.Next(space, 1)) s = Apply(s, events);
        return s;
    }

    [Fact]
    public void The_window_is_proposed_first_and_a_batch_is_observed_only_when_it_and_every_earlier_batch_are_done()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 20, batch: 3, mode: SearchMode.Pipelined, window: 7));
        var first = Assert.IsType<TrialsProposed>(s.Next(space, 1)[0]);
        Assert.Equal(7, first.Vectors.Count);
        s = Drive(s, space);
        Assert.Equal(7, s.Trials.Count);

        foreach (var t in new[] { 3, 4, 5, 0, 1 }) s = Complete(s, t, space); // batch 1 done, batch 0 not yet
        s = Drive(s, space);
        Assert.Equal(7, s.Trials.Count);
        Assert.All(s.Trials, t => Assert.False(t.Observed));

        s = Complete(s, 2, space);
        var update = Assert.IsType<ControllerUpdated>(Assert.Single(s.Next(space, 2)));
        Assert.Equal([0, 1, 2], update.TrialIds); // batch 0 alone: batch 1 waits for the refill
        s = s.Apply(update);
        var refill = Assert.IsType<TrialsProposed>(s.Next(space, 3)[0]);
        Assert.Equal((7, 3), (refill.FirstTrialId, refill.Vectors.Count)); // the window is full again: trials 3 … 9
        s = Apply(s, s.Next(space, 3));
        Assert.Equal([3, 4, 5], Assert.IsType<ControllerUpdated>(Assert.Single(s.Next(space, 4))).TrialIds);
    }

    [Fact]
    public void A_budget_that_is_not_a_multiple_of_the_batch_ends_with_a_short_batch_and_finishes()
    {
        var (s, space) = Specs.Created(Specs.Spec(trials: 8, batch: 3, mode: SearchMode.Pipelined, window: 6));
        var observed = new List<IReadOnlyList<int>>();
        while (!s.Finished)
        {
            var events = s.Next(space, 10);
            observed.AddRange(events.OfType<ControllerUpdated>().Select(u => u.TrialIds));
            if (events.Count == 0)
                foreach (var t in s.Trials.Where(t => !s.IsDone(t) && t.ReusedFrom is null).Select(t => t.Id).ToList()) s = Complete(s, t, space);
            s = Apply(s, events);
        }
        Assert.Equal(8, s.Trials.Count);
        Assert.Equal([[0, 1, 2], [3, 4, 5], [6, 7]], observed);
    }

    /// <summary>Completes the outstanding trials in an order drawn from <paramref name="order"/> — one, a few or all at a time.</summary>
    private static (List<string> Trajectory, int MaxInFlight) Run(ExperimentSpec spec, DeterministicRng order)
    {
        var (s, space) = Specs.Created(spec);
        var trajectory = new List<string>();
        var maxInFlight = 0;
        while (!s.Finished)
        {
            var events = s.Next(space, 1);
            foreach (var e in events)
                switch (e)
                {
                    case TrialsProposed p:
                        trajectory.Add($"propose {p.FirstTrialId}+{p.Vectors.Count}: {string.Join(";", p.Vectors.Select(v => string.Join(",", v)))} {p.ControllerState}");
                        break;
                    case ControllerUpdated u:
                        trajectory.Add($"observe {string.Join(",", u.TrialIds)}: {string.Join(",", u.Rewards)} {u.ControllerState}");
                        break;
                }
            s = Apply(s, events);
            if (events.Count > 0) continue;
            var open = s.Trials.Where(t => !s.IsDone(t) && t.ReusedFrom is null).Select(t => t.Id).ToList();
            maxInFlight = Math.Max(maxInFlight, s.Trials.Count(t => !s.IsDone(t)));
            var take = 1 + order.NextInt(open.Count);
            for (var i = 0; i < take; i++)
            {
                var pick = order.NextInt(open.Count);
                s = Complete(s, open[pick], space);
                open.RemoveAt(pick);
            }
        }
        return (trajectory, maxInFlight);
    }

    [Theory]
    [InlineData("reinforce")]
    [InlineData("evolution")]
    public void The_trajectory_depends_on_seed_batch_and_window_only_not_on_the_order_results_arrive(string controller)
    {
        var spec = ExperimentSpecs.Build(Specs.Request("pipe", trials: 60, batch: 4, seed: 5) with
        {
            Controller = controller,
            Mode = SearchMode.Pipelined,
            Window = 10,
        });
        var reference = Run(spec, new DeterministicRng(1));
        Assert.InRange(reference.MaxInFlight, 5, 10); // more than a batch in flight, never more than the window
        for (var order = 2; order <= 6; order++) Assert.Equal(reference.Trajectory, Run(spec, new DeterministicRng((ulong)order)).Trajectory);
        var otherWindow = ExperimentSpecs.Build(Specs.Request("pipe", trials: 60, batch: 4, seed: 5) with
        {
            Controller = controller,
            Mode = SearchMode.Pipelined,
            Window = 8,
        });
        Assert.NotEqual(reference.Trajectory, Run(otherWindow, new DeterministicRng(1)).Trajectory);
    }

    [Fact]
    public void A_window_smaller_than_a_batch_or_a_window_without_pipelined_mode_is_refused_by_name()
    {
        var small = Assert.Throws<NasInputException>(() => ExperimentSpecs.Build(Specs.Request("w", batch: 5) with { Mode = SearchMode.Pipelined, Window = 4 }));
        Assert.Contains("--window must be at least the batch (5)", small.Message);
        var wrongMode = Assert.Throws<NasInputException>(() => ExperimentSpecs.Build(Specs.Request("w", batch: 5) with { Mode = SearchMode.Synchronous, Window = 10 }));
        Assert.Contains("--window is for --mode pipelined", wrongMode.Message);
        Assert.Equal(10, ExperimentSpecs.Build(Specs.Request("w", batch: 5) with { Mode = SearchMode.Pipelined }).PipelineWindow); // default: two batches
    }

    [Fact]
    public void A_pipelined_spec_keeps_its_window_through_the_journal_and_other_specs_keep_their_version_1_bytes()
    {
        var pipelined = Specs.Spec(batch: 4, mode: SearchMode.Pipelined, window: 9);
        var created = new ExperimentCreated(pipelined, "{}", 1);
        var back = (ExperimentCreated)NasSerializer.FromBytes(NasSerializer.ToBytes(created), NasSerializer.Manifests[typeof(ExperimentCreated)]);
        Assert.Equal((SearchMode.Pipelined, 9), (back.Spec.Mode, back.Spec.PipelineWindow));
        var synchronous = System.Text.Encoding.UTF8.GetString(NasSerializer.ToBytes(new ExperimentCreated(Specs.Spec(batch: 4), "{}", 1)));
        Assert.DoesNotContain("pipeline_window", synchronous);
        Assert.DoesNotContain("\"mode\"", synchronous);
    }
}
