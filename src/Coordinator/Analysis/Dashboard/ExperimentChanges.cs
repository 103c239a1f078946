namespace NasCluster.Coordinator.Analysis.Dashboard;

/// <summary>One experiment whose journal grew (or that appeared) between two looks at the database.</summary>
public sealed record ExperimentChange(string Name, long Version, bool Appeared);

/// <summary>
/// What changed between two readings of the journal's per-experiment sequence numbers: the rule the
/// dashboard's watcher applies before it tells browsers to redraw. Pure, so it is tested on its own.
/// </summary>
public static class ExperimentChanges
{
    public static IReadOnlyList<ExperimentChange> Between(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> now)
    {
        var changes = new List<ExperimentChange>();
        foreach (var (name, version) in now.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!before.TryGetValue(name, out var old)) changes.Add(new ExperimentChange(name, version, Appeared: true));
            else if (version != old) changes.Add(new ExperimentChange(name, version, Appeared: false));
        }
        return changes;
    }
}
