using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Pareto;
using NasCluster.Coordinator.Rewards;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Search;

/// <summary>One trial as the in-memory loop reports it: what was proposed, what it measured, its reward, whether it reused an earlier trial.</summary>
public sealed record TrialRecord(int Index, Candidate Candidate, string ArchitectureHash, TrialMeasurement? Measurement, double Reward,
    bool Reused, string? FailureReason)
{
    public bool Failed => Measurement is null;
}

/// <summary>
/// A search without actors or a journal, for benchmarks and tests: the production ledger
/// (<see cref="ExperimentState"/>) driven in memory — the same proposals, de-duplication by architecture
/// hash, rewards, failure handling and controller updates as a cluster run, with every event applied
/// where the experiment actor would persist it and the work done inline by <c>evaluate</c>. A failed
/// evaluation is final (like an architecture the evaluator cannot price) and earns the infeasible reward.
/// </summary>
public sealed class SearchRunner(Space space, ISearchController controller, RewardFunction reward,
    Func<Network, (TrialMeasurement? Measurement, string? Failure)> evaluate)
{
    private const string Worker = "in-memory";

    /// <summary>The ledger after <see cref="Run"/>.</summary>
    public ExperimentState? State { get; private set; }

    public IReadOnlyList<TrialRecord> Trials => State is null
        ? []
        : State.Trials.Select(t => new TrialRecord(t.Id, space.FromVector(t.Vector), t.Hash, State.Measurement(t), State.Reward(t) ?? double.NaN,
            t.ReusedFrom is not null, State.FailureOf(t))).ToList();

    public ParetoFront LatencyFront => State?.Front(CostMetric.LatencyMs) ?? new ParetoFront();

    public ParetoFront EnergyFront => State?.Front(CostMetric.EnergyMj) ?? new ParetoFront();

    /// <summary>Evaluations actually performed (trials minus reuses).</summary>
    public int Evaluations { get; private set; }

    /// <summary>Runs a synchronous-batch search of <paramref name="trials"/> trials to its end.</summary>
    public void Run(int trials, int batchSize)
    {
        var spec = ExperimentSpecs.InMemory(space, controller.Kind, trials, batchSize, reward);
        var s = ExperimentState.Created(new ExperimentCreated(spec, controller.ExportState(), 0));
        var built = new Dictionary<string, Network>(StringComparer.Ordinal);
        var quality = new Dictionary<int, double>();
        var now = 0L;
        while (!s.Finished)
        {
            var events = s.Next(space, ++now, c =>
            {
                var network = space.Build(c);
                built[string.Join(',', c.Vector)] = network;
                return network;
            });
            foreach (var e in events) s = s.Apply(e);
            if (events.Count > 0) continue;
            var worked = false;
            foreach (var id in s.Outstanding(WorkKind.Cost).Select(t => t.Id).ToList())
            {
                worked = true;
                var d = s.Dispatch(id, WorkKind.Cost, Worker, now);
                s = s.Apply(d);
                var key = string.Join(',', s.Trials[id].Vector);
                var network = built.Remove(key, out var b) ? b : space.Build(space.FromVector(s.Trials[id].Vector));
                var (m, failure) = evaluate(network);
                Evaluations++;
                if (m is null)
                {
                    s = s.Apply(s.OnAttemptFailed(id, WorkKind.Cost, d.Attempt, failure ?? "evaluation failed", permanent: true)!);
                    continue;
                }
                s = s.Apply(s.OnCost(id, new CostSummary(m.LatencyMs, m.LatencyMs, m.EnergyMj, 0, 0, m.Params, 0, 0, 0), Worker)!);
                quality[id] = m.Quality;
            }
            foreach (var id in s.Outstanding(WorkKind.Quality).Select(t => t.Id).ToList())
            {
                worked = true;
                s = s.Apply(s.Dispatch(id, WorkKind.Quality, Worker, now));
                s = s.Apply(s.OnQuality(id, quality[id], 0, 0, 0, Worker, null, null)!);
            }
            built.Clear();
            if (!worked) throw new InvalidOperationException("the in-memory search stalled: nothing to propose, observe or work on");
        }
        State = s;
    }
}
