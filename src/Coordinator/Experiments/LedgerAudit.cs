using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// The ledger's promises checked on a finished experiment's raw journal: every trial proposed once, in order;
/// each accounted exactly once (one cost and one quality per training unit — one, or the spec's proxy seeds —,
/// or reused, or failed); the controller observing each trial once; one end. Used by the chaos harness after
/// it has killed nodes, and by the crash tests.
/// </summary>
public static class LedgerAudit
{
    /// <summary>What is wrong, one line each; empty when every promise holds.</summary>
    public static IReadOnlyList<string> Check(IReadOnlyList<Shared.Protocol.IExperimentEvent> events, int trials)
    {
        var problems = new List<string>();
        var proposed = events.OfType<TrialsProposed>().SelectMany(p => Enumerable.Range(p.FirstTrialId, p.Vectors.Count)).ToList();
        if (!proposed.SequenceEqual(Enumerable.Range(0, trials)))
            problems.Add($"trials proposed: {proposed.Count} (expected 0..{trials - 1} once each, in order)");
        var units = events.OfType<ExperimentCreated>().FirstOrDefault()?.Spec.Seeds ?? 1;
        var costs = events.OfType<CostRecorded>().GroupBy(e => e.TrialId).ToDictionary(g => g.Key, g => g.Count());
        var perUnit = events.OfType<QualityRecorded>().GroupBy(e => (e.TrialId, e.Unit)).ToDictionary(g => g.Key, g => g.Count());
        problems.AddRange(perUnit.Where(kv => kv.Value > 1).Select(kv => $"trial {kv.Key.TrialId}: {kv.Value} qualities recorded" + (units > 1 ? $" for seed {kv.Key.Unit + 1}" : "")));
        problems.AddRange(perUnit.Keys.Where(k => k.Unit < 0 || k.Unit >= units).Select(k => $"trial {k.TrialId}: a quality for training unit {k.Unit} of {units}"));
        // A trial's quality is recorded once all its training units are (each once).
        var qualities = perUnit.Keys.GroupBy(k => k.TrialId).Where(g => g.Count() == units).ToDictionary(g => g.Key, _ => 1);
        var failed = events.OfType<TrialFailed>().GroupBy(e => e.TrialId).ToDictionary(g => g.Key, g => g.Count());
        var reused = events.OfType<TrialReused>().Select(e => e.TrialId).ToHashSet();
        problems.AddRange(costs.Where(kv => kv.Value > 1).Select(kv => $"trial {kv.Key}: {kv.Value} costs recorded"));
        problems.AddRange(failed.Where(kv => kv.Value > 1).Select(kv => $"trial {kv.Key}: failed {kv.Value} times"));
        for (var t = 0; t < trials; t++)
        {
            var completed = costs.ContainsKey(t) && qualities.ContainsKey(t);
            var accounted = (completed ? 1 : 0) + (failed.ContainsKey(t) ? 1 : 0) + (reused.Contains(t) ? 1 : 0);
            // A trial may fail after some of its results were recorded.
            if (accounted != 1 && !(failed.ContainsKey(t) && (costs.ContainsKey(t) || perUnit.Keys.Any(k => k.TrialId == t))))
                problems.Add($"trial {t}: cost {costs.GetValueOrDefault(t)}, quality {qualities.GetValueOrDefault(t)}, failed {failed.GetValueOrDefault(t)}, reused {reused.Contains(t)}");
        }
        var observed = events.OfType<ControllerUpdated>().SelectMany(u => u.TrialIds).ToList();
        if (observed.Count != observed.Distinct().Count()) problems.Add("the controller observed a trial more than once");
        var finished = events.OfType<ExperimentFinished>().Count();
        if (finished != 1) problems.Add($"{finished} ExperimentFinished events (expected 1)");
        return problems;
    }
}
