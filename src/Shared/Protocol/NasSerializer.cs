using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Shared.Protocol;

/// <summary>
/// The one serializer of NasCluster's messages and events: UTF-8 JSON with a stable, versioned manifest
/// per type (<c>exp-created-v1</c>). Manifests never change and are never reused: a type that must change
/// gets a new record and a new manifest, and the old one stays readable. Golden-bytes tests pin every
/// persisted event. Bound to <see cref="INasMessage"/>; strict serialization rejects everything else.
/// </summary>
public sealed class NasSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 8117;

    public static readonly IReadOnlyDictionary<Type, string> Manifests = new Dictionary<Type, string>
    {
        // Experiment ledger (persisted).
        [typeof(ExperimentCreated)] = "exp-created-v1",
        [typeof(TrialsProposed)] = "exp-proposed-v1",
        [typeof(TrialReused)] = "exp-reused-v1",
        [typeof(DispatchAttempted)] = "exp-dispatched-v1",
        [typeof(CostRecorded)] = "exp-cost-v1",
        [typeof(QualityRecorded)] = "exp-quality-v1",
        [typeof(TrialFailed)] = "exp-failed-v1",
        [typeof(AttemptPreempted)] = "exp-preempted-v1",
        [typeof(ControllerUpdated)] = "exp-controller-v1",
        [typeof(ExperimentFinished)] = "exp-finished-v1",
        // Experiment snapshots (persisted; a cache of the ledger).
        [typeof(ExperimentSnapshotV1)] = "exp-snapshot-v1",
        [typeof(ExperimentSnapshotV2)] = "exp-snapshot-v2",
        // The registry's record of running experiments (persisted).
        [typeof(RegistryProtocol.RegistryExperimentStarted)] = "reg-started-v1",
        [typeof(RegistryProtocol.RegistryExperimentEnded)] = "reg-ended-v1",
        // Experiment commands and replies.
        [typeof(StartExperiment)] = "exp-start-v1",
        [typeof(ResumeExperiment)] = "exp-resume-v1",
        [typeof(ExperimentAccepted)] = "exp-accepted-v1",
        [typeof(ExperimentRefused)] = "exp-refused-v1",
        [typeof(WatchExperiment)] = "exp-watch-v1",
        [typeof(ExperimentProgress)] = "exp-progress-v1",
        [typeof(StopExperiment)] = "exp-stop-v1",
        [typeof(GetExperimentState)] = "exp-get-state-v1",
        [typeof(ExperimentStateReply)] = "exp-state-v2",
        [typeof(ExperimentDone)] = "exp-done-v1",
        [typeof(ExperimentHalted)] = "exp-halted-v1",
        [typeof(RegisterTrainer)] = "exp-register-trainer-v1",
        [typeof(TrainerAvailable)] = "exp-trainer-available-v1",
        // Evaluation (wire only; v2: typed attempt ids and fidelity).
        [typeof(Evaluate)] = "eval-evaluate-v2",
        [typeof(EvaluationResult)] = "eval-result-v2",
        [typeof(EvaluationFailed)] = "eval-failed-v2",
        [typeof(EvaluateReport)] = "eval-report-request-v1",
        [typeof(EvaluationReport)] = "eval-report-v1",
        [typeof(ReportFailed)] = "eval-report-failed-v1",
        // Training.
        [typeof(GetTrainerStatus)] = "train-get-status-v1",
        [typeof(TrainerStatus)] = "train-status-v2",
        [typeof(WorkAssignment)] = "train-assignment-v1",
        [typeof(WorkRefused)] = "train-refused-v1",
        [typeof(WorkResult)] = "train-result-v1",
        [typeof(WorkAck)] = "train-ack-v1",
        [typeof(ReleaseWeights)] = "train-release-weights-v1",
    };

    private static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(kv => kv.Value, kv => kv.Key);

    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
        // Never embedded in HTML: escape only what JSON requires (nested JSON such as controller states stays compact).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m)
            ? m
            : throw new ArgumentException($"no manifest registered for {o.GetType().FullName}; add it to NasSerializer.Manifests (never change an existing one)");

    public override byte[] ToBinary(object obj) => ToBytes(obj);

    public override object FromBinary(byte[] bytes, string manifest) => FromBytes(bytes, manifest);

    /// <summary>Serialises without an actor system (the journal reader of `status` uses this too).</summary>
    public static byte[] ToBytes(object obj)
    {
        if (!Manifests.ContainsKey(obj.GetType())) throw new ArgumentException($"no manifest registered for {obj.GetType().FullName}");
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);
    }

    public static object FromBytes(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            throw new SerializationException($"unknown manifest '{manifest}' (written by a newer NasCluster?)");
        return JsonSerializer.Deserialize(bytes, type, Options)
               ?? throw new SerializationException($"'{manifest}' deserialised to null: {Encoding.UTF8.GetString(bytes)}");
    }
}
