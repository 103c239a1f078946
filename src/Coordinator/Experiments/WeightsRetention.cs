using NasCluster.Coordinator.Rewards;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// Which kept proxy weights an experiment no longer needs: those of trials on neither Pareto front (quality
/// against latency, against energy). Fronts of a growing set only tighten — a dominated trial stays
/// dominated — so deleting them is final and safe, and the weights on disk stay bounded by the fronts'
/// size rather than the trial count. With several seeds per trial only the first seed's weights are the
/// trial's (export uses them); the other seeds' are unneeded as soon as they are recorded. The experiment asks
/// the agent that trained each of them to delete the file (<c>ReleaseWeights</c>); an agent deletes only
/// inside its own weights directory.
/// </summary>
public static class WeightsRetention
{
    public static IReadOnlyList<(int Trial, string Worker, string Path)> Unneeded(ExperimentState s)
    {
        var keep = OnAFront(s);
        var unneeded = s.Trials
            .Where(t => t.Quality?.WeightsPath is not null && !keep.Contains(t.Id) && s.Measurement(t) is not null)
            .Select(t => (t.Id, t.Quality!.Worker, t.Quality.WeightsPath!))
            .ToList();
        foreach (var t in s.Trials)
            for (var u = 1; u < t.Units.Length; u++)
                if (t.Units[u] is { WeightsPath: { } path } q) unneeded.Add((t.Id, q.Worker, path));
        return unneeded;
    }

    /// <summary>Whether a trial is on either front (its weights are kept).</summary>
    public static bool Kept(ExperimentState s, int trial) => OnAFront(s).Contains(trial);

    private static HashSet<int> OnAFront(ExperimentState s) => [.. s.FrontIds(CostMetric.LatencyMs), .. s.FrontIds(CostMetric.EnergyMj)];
}
