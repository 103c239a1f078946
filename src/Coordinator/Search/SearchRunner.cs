using NasCluster.Coordinator.Pareto;
using NasCluster.Coordinator.Rewards;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;

namespace NasCluster.Coordinator.Search;

/// <summary>One finished trial: what was proposed, what it measured, its reward, and whether the measurement was reused.</summary>
public sealed record TrialRecord(int Index, Candidate Candidate, string ArchitectureHash, TrialMeasurement? Measurement, double Reward,
    bool Reused, string? FailureReason)
{
    public bool Failed => Measurement is null;
}

/// <summary>
/// Results by architecture hash: a candidate proposed again in the same experiment (the same network,
/// even through different decision vectors) reuses the earlier result instead of being evaluated twice.
/// </summary>
public sealed class TrialCache
{
    private readonly Dictionary<string, (TrialMeasurement? Measurement, string? Failure)> _byHash = new(StringComparer.Ordinal);

    public int Count => _byHash.Count;

    public bool TryGet(string hash, out TrialMeasurement? measurement, out string? failure)
    {
        var found = _byHash.TryGetValue(hash, out var entry);
        (measurement, failure) = entry;
        return found;
    }

    public void Add(string hash, TrialMeasurement? measurement, string? failure) => _byHash.TryAdd(hash, (measurement, failure));
}

/// <summary>
/// The synchronous-batch search loop without actors: propose a batch, evaluate what is new, reward,
/// observe, repeat. Used by the benchmark and the tests; the experiment actor runs the same steps with
/// persistence in between.
/// </summary>
public sealed class SearchRunner(Space space, ISearchController controller, RewardFunction reward,
    Func<Network, (TrialMeasurement? Measurement, string? Failure)> evaluate, double failedReward = 0)
{
    private readonly TrialCache _cache = new();
    private readonly List<TrialRecord> _trials = [];

    public IReadOnlyList<TrialRecord> Trials => _trials;

    public ParetoFront LatencyFront { get; } = new();

    public ParetoFront EnergyFront { get; } = new();

    /// <summary>Evaluations actually performed (trials minus reuses).</summary>
    public int Evaluations { get; private set; }

    public void Run(int trials, int batchSize)
    {
        while (_trials.Count < trials) Step(Math.Min(batchSize, trials - _trials.Count));
    }

    public IReadOnlyList<TrialRecord> Step(int batchSize)
    {
        var proposed = controller.Propose(batchSize);
        var records = new List<TrialRecord>(proposed.Count);
        foreach (var candidate in proposed)
        {
            var network = space.Build(candidate);
            var hash = network.Hash;
            var reused = _cache.TryGet(hash, out var measurement, out var failure);
            if (!reused)
            {
                (measurement, failure) = evaluate(network);
                _cache.Add(hash, measurement, failure);
                Evaluations++;
            }
            var r = measurement is null ? failedReward : reward.Reward(measurement);
            var record = new TrialRecord(_trials.Count, candidate, hash, measurement, r, reused, failure);
            _trials.Add(record);
            records.Add(record);
            if (measurement is not null)
            {
                LatencyFront.Add(new ParetoPoint(hash, measurement.LatencyMs, measurement.Quality));
                EnergyFront.Add(new ParetoPoint(hash, measurement.EnergyMj, measurement.Quality));
            }
        }
        controller.Observe(records.Select(t => new Observation(t.Candidate, t.Reward)).ToList());
        return records;
    }
}
