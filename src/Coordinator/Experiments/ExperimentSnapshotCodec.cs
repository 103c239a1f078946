using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// Between <see cref="ExperimentState"/> and what the snapshot store keeps (<see cref="IExperimentSnapshot"/>).
/// It writes the current version and reads every version ever written: version 1 (the state serialised by
/// reflection) is upcast through a frozen copy of the shape it had, so renaming a field of the in-memory
/// state breaks no stored snapshot. Golden files of a realistic ledger pin both versions' bytes.
/// </summary>
public static class ExperimentSnapshotCodec
{
    public static ExperimentSnapshotV2 ToSnapshot(ExperimentState s) => new(s.Spec, s.ControllerState,
        s.Trials.Select(t => t.Units.Length == 1
            ? new TrialSnapshot(t.Id, t.Vector, t.Hash, t.ReusedFrom, t.Cost, t.CostNode, Snapshot(t.Units[0]), t.Failure, t.CostAttempts, t.UnitAttempts[0], t.Observed)
            : new TrialSnapshot(t.Id, t.Vector, t.Hash, t.ReusedFrom, t.Cost, t.CostNode, null, t.Failure, t.CostAttempts, 0, t.Observed,
                [.. t.Units.Select(Snapshot)], [.. t.UnitAttempts])).ToList(),
        s.Finished, s.CreatedUnixMs, s.FinishedUnixMs);

    private static QualitySnapshot? Snapshot(QualityInfo? q) =>
        q is null ? null : new QualitySnapshot(q.Score, q.Loss, q.WallSeconds, q.StepsPerSecond, q.Worker, q.WeightsPath, q.WeightsSha256);

    private static QualityInfo? Info(QualitySnapshot? q) =>
        q is null ? null : new QualityInfo(q.Score, q.Loss, q.WallSeconds, q.StepsPerSecond, q.Worker, q.WeightsPath, q.WeightsSha256);

    /// <exception cref="InvalidDataException">Not a snapshot this version of NasCluster can read, or inconsistent.</exception>
    public static ExperimentState FromSnapshot(object snapshot) => snapshot switch
    {
        ExperimentSnapshotV2 v2 => FromV2(v2),
        ExperimentSnapshotV1 v1 => FromV2(Upcast(v1)),
        _ => throw new InvalidDataException($"not an experiment snapshot: {snapshot.GetType().Name}"),
    };

    private static ExperimentState FromV2(ExperimentSnapshotV2 s)
    {
        var trials = ImmutableList.CreateBuilder<TrialState>();
        var firstByHash = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        var unobserved = ImmutableSortedSet.CreateBuilder<int>();
        foreach (var t in s.Trials)
        {
            if (t.Id != trials.Count) throw new InvalidDataException($"snapshot of '{s.Spec.Name}': trial {t.Id} stands at position {trials.Count}");
            if (t.ReusedFrom is { } source && (source < 0 || source >= t.Id))
                throw new InvalidDataException($"snapshot of '{s.Spec.Name}': trial {t.Id} reuses trial {source}, which does not precede it");
            var seeds = t.Seeds is { } several ? several.Count : 1;
            if (seeds != s.Spec.Seeds || t.SeedAttempts is { } a && a.Length != seeds)
                throw new InvalidDataException($"snapshot of '{s.Spec.Name}': trial {t.Id} has {seeds} trainings, the experiment {s.Spec.Seeds}");
            trials.Add(new TrialState(t.Id, t.Vector, t.Hash, t.ReusedFrom, t.Cost, t.CostNode,
                t.Seeds is { } units ? [.. units.Select(Info)] : [Info(t.Quality)],
                t.Failure, t.CostAttempts, t.SeedAttempts is { } attempts ? [.. attempts] : [t.QualityAttempts], t.Observed));
            firstByHash.TryAdd(t.Hash, t.Id);
            if (!t.Observed) unobserved.Add(t.Id);
        }
        return new ExperimentState(s.Spec, s.ControllerState, trials.ToImmutable(), firstByHash.ToImmutable(), unobserved.ToImmutable(), s.Finished,
            s.CreatedUnixMs, s.FinishedUnixMs);
    }

    // ----- Version 1: the shape ExperimentState had when it was serialised by reflection (frozen; never edit) -----

    private static readonly JsonSerializerOptions V1Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private sealed record V1State(ExperimentSpec Spec, string ControllerState, List<V1Trial> Trials, bool Finished, long CreatedUnixMs, long FinishedUnixMs);

    private sealed record V1Trial(int Id, int[] Vector, string Hash, int? ReusedFrom, CostSummary? Cost, string? CostNode, V1Quality? Quality, string? Failure,
        int CostAttempts, int QualityAttempts, bool Observed);

    private sealed record V1Quality(double Score, double Loss, double WallSeconds, double StepsPerSecond, string Worker, string? WeightsPath, string? WeightsSha256);

    private static ExperimentSnapshotV2 Upcast(ExperimentSnapshotV1 v1)
    {
        if (v1.Version != 1) throw new InvalidDataException($"an exp-snapshot-v1 record of version {v1.Version}");
        var s = JsonSerializer.Deserialize<V1State>(v1.State, V1Options) ?? throw new InvalidDataException("empty experiment snapshot (version 1)");
        return new ExperimentSnapshotV2(s.Spec, s.ControllerState,
            s.Trials.Select(t => new TrialSnapshot(t.Id, t.Vector, t.Hash, t.ReusedFrom, t.Cost, t.CostNode,
                t.Quality is { } q ? new QualitySnapshot(q.Score, q.Loss, q.WallSeconds, q.StepsPerSecond, q.Worker, q.WeightsPath, q.WeightsSha256) : null,
                t.Failure, t.CostAttempts, t.QualityAttempts, t.Observed)).ToList(),
            s.Finished, s.CreatedUnixMs, s.FinishedUnixMs);
    }
}
