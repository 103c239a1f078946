using System.Text.Json.Serialization;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Shared.Protocol;

/// <summary>
/// What the snapshot store holds for an experiment: a cache of its events (deleting snapshots only slows
/// recovery). Not an event — nothing folds it — and not the in-memory state either: a persisted data type
/// of its own, versioned like the events, so the in-memory record can change freely while every snapshot
/// ever written stays readable (the coordinator's codec upcasts older versions).
/// </summary>
public interface IExperimentSnapshot : INasMessage;

/// <summary>
/// Version 1 (read only): the in-memory state serialised by reflection, as text. It tied stored snapshots to
/// the names of the in-memory fields; version 2 replaced it.
/// </summary>
public sealed record ExperimentSnapshotV1(int Version, string State) : IExperimentSnapshot;

/// <summary>
/// Version 2: the ledger's facts and nothing derived — the spec, the controller's state, every trial, and
/// whether and when the experiment finished. Indexes (first trial per hash, unobserved trials) are rebuilt
/// on recovery from the trials.
/// </summary>
public sealed record ExperimentSnapshotV2(ExperimentSpec Spec, string ControllerState, IReadOnlyList<TrialSnapshot> Trials, bool Finished, long CreatedUnixMs,
    long FinishedUnixMs) : IExperimentSnapshot;

/// <summary>
/// One trial of a version-2 snapshot. A trial with several quality trainings (<c>--proxy-seeds</c>) keeps each in
/// <paramref name="Seeds"/> and their attempts in <paramref name="SeedAttempts"/>, and then <paramref name="Quality"/> and
/// <paramref name="QualityAttempts"/> are null and 0; both are written only then, so other snapshots keep their bytes.
/// </summary>
public sealed record TrialSnapshot(int Id, int[] Vector, string Hash, int? ReusedFrom, CostSummary? Cost, string? CostNode, QualitySnapshot? Quality,
    string? Failure, int CostAttempts, int QualityAttempts, bool Observed,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<QualitySnapshot?>? Seeds = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int[]? SeedAttempts = null);

/// <summary>A trial's quality as a version-2 snapshot keeps it.</summary>
public sealed record QualitySnapshot(double Score, double Loss, double WallSeconds, double StepsPerSecond, string Worker, string? WeightsPath,
    string? WeightsSha256);
