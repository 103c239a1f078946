using System.Text.Json.Serialization;
using static NasCluster.Shared.Protocol.EvaluationProtocol;

namespace NasCluster.Shared.Protocol;

/// <summary>Commands to the experiment registry and its experiments, and their replies.</summary>
public interface IExperimentMessage : INasMessage;

/// <summary>Events an experiment persists: its ledger. Manifests never change; new versions get new types.</summary>
public interface IExperimentEvent : INasMessage;

/// <summary>
/// Experiments: what a search is (<see cref="ExperimentSpec"/>), how clients start, resume and watch one,
/// and the events of its ledger. The ledger guarantees no lost work and no double counting: a trial is
/// persisted before it is dispatched, every dispatch attempt is recorded, a result is accepted once (for
/// an outstanding trial) and persisted before it is acknowledged, late or duplicate results are
/// acknowledged and dropped, and a trial that fails <c>MaxAttempts</c> times is recorded as failed.
/// </summary>
public static class ExperimentProtocol
{
    public const string RegistryName = "experiment-registry";

    public static string PersistenceIdOf(string experiment) => $"experiment-{experiment}";

    /// <summary>The reward's definition as it is persisted (see Coordinator's RewardFunction).</summary>
    public sealed record RewardSpec(string Objective, double? LatencyTargetMs, double? EnergyTargetMj, double? ParamsTarget, double W, double Beta,
        double InfeasibleReward);

    /// <summary>Everything that defines a search; frozen at creation and checked on resume.</summary>
    public sealed record ExperimentSpec(
        string Name,
        string SpaceJson,
        string SpaceSource,
        string SpaceFingerprint,
        ControllerKind Controller,
        long Seed,
        int Trials,
        int BatchSize,
        bool Asynchronous,
        string Hardware,
        string? HardwareJson,
        string HardwareFingerprint,
        string HardwareSource,
        string HardwareValues,
        Fidelity Fidelity,
        string SimulatorVersion,
        RewardSpec Reward,
        QualityMode QualityMode,
        int ProxySteps,
        int MaxAttempts,
        int EvaluationTimeoutMs,
        int TrainingTimeoutMs,
        int SnapshotEvery,
        string? ForkedFrom,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int PipelineWindow = 0,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int ProxySeeds = 0,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProxyTraining? Training = null)
    {
        /// <summary>
        /// Trainings per trial (<c>--proxy-seeds</c>): a trial's quality is the mean of this many proxy trainings with
        /// different seeds, each its own unit of work. Written only when above 1, so other specs keep their bytes.
        /// </summary>
        [JsonIgnore]
        public int Seeds => Math.Max(1, ProxySeeds);

        /// <summary>
        /// The seed of unit <paramref name="unit"/> of a trial's quality: the experiment's seed plus the trial id for the
        /// first (as before there were units), a large odd stride apart for the others, so no two units of any trials share one.
        /// </summary>
        public long TrainingSeed(int trialId, int unit) => Seed + trialId + unit * 1_000_000_007L;

        /// <summary>The mode the spec runs in. A pipelined spec has a window (trials in flight, at least a
        /// batch); the window is written only when set, so specs of the other modes keep the bytes version 1 stored.</summary>
        [JsonIgnore]
        public SearchMode Mode => PipelineWindow > 0 ? SearchMode.Pipelined : Asynchronous ? SearchMode.Asynchronous : SearchMode.Synchronous;

        /// <summary>How the mode reads in <c>status</c> and the report.</summary>
        [JsonIgnore]
        public string ModeDescription => Mode switch
        {
            SearchMode.Pipelined => $"pipelined, batches of {BatchSize} in a window of {PipelineWindow}",
            var m => $"{Kinds.Name(m)} batches of {BatchSize}",
        };
    }

    /// <summary>
    /// Everything a proxy training needs to be done again the same way: the dataset (by content hash), the
    /// recipe, the proxy's scaling and the teacher's recipe. Recorded in every proxy experiment created since
    /// it exists and sent with every assignment, so a resumed or forked search, or another trainer node, trains
    /// exactly as the first did (older experiments have none: the defaults of their time, which these equal).
    /// </summary>
    /// <param name="Data">The dataset (for nlp, the text corpus), identified by its content hash.</param>
    /// <param name="BatchSize">The student's batch.</param>
    /// <param name="LearningRate">The student's peak learning rate (Adam, cosine decay).</param>
    /// <param name="Temperature">The distillation temperature.</param>
    /// <param name="DistillationWeight">Weight of the distillation term (0: cross-entropy only, as segmentation trains).</param>
    /// <param name="WidthMultiplier">The proxy's width multiplier.</param>
    /// <param name="Resolution">The proxy's input side (32 for classification, the scene canvas for segmentation and detection), or for nlp its sequence length.</param>
    /// <param name="Teacher">The teacher's recipe (for nlp, the text teacher's: widths are hidden, bottleneck, layers).</param>
    /// <param name="Task">What the proxy trains: null for classification (so classification records keep their bytes), "segmentation", "detection", "nlp".</param>
    /// <param name="Scenes">Segmentation and detection: how the scenes are built from the dataset's images.</param>
    /// <param name="Text">Nlp: how the text task is cut from the corpus.</param>
    public sealed record ProxyTraining(ProxyDataset Data, int BatchSize, double LearningRate, double Temperature, double DistillationWeight,
        double WidthMultiplier, int Resolution, ProxyTeacherRecipe Teacher,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Task = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProxyScenes? Scenes = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ProxyText? Text = null);

    /// <summary>
    /// How the NLP proxy's text task is cut from its corpus (WordNet glosses): tokens per sequence, vocabulary size,
    /// examples per class and the draw-and-split seed (the corpus's content hash is the dataset's).
    /// </summary>
    public sealed record ProxyText(int SequenceLength, int Vocabulary, int PerClass, long Seed);

    /// <summary>
    /// How the segmentation and detection proxies' scenes are built from a dataset's images: the canvas side, items
    /// per scene (1 to MaxItems), scene counts, the placement seed, the mask threshold, the largest overlap allowed
    /// and the range of item sizes (0: items keep their size).
    /// </summary>
    public sealed record ProxyScenes(int Canvas, int MaxItems, int TrainScenes, int ValidationScenes, long Seed, int MaskThreshold, double MaxOverlap,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int MinItemSize = 0,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int MaxItemSize = 0);

    /// <summary>
    /// A proxy dataset: its kind ("idx": Fashion-MNIST-style IDX files; "folder": one folder of images per class),
    /// where it was found, the hash of its content (what is trained on, after decoding and resizing), its classes
    /// and channels, and the sizes of its training and validation splits.
    /// </summary>
    public sealed record ProxyDataset(string Kind, string Source, string ContentHash, int Classes, int Channels, int TrainImages, int ValidationImages,
        IReadOnlyList<string>? ClassNames = null);

    /// <summary>The distillation teacher's recipe (its cache key is derived from it and the dataset's content hash).</summary>
    public sealed record ProxyTeacherRecipe(int Steps, int BatchSize, double LearningRate, long Seed, int[] Widths);

    // Commands and replies.

    /// <summary>Create and run an experiment. A fork starts from its parent's controller state (<paramref name="ControllerState"/>).</summary>
    public sealed record StartExperiment(ExperimentSpec Spec, string? ControllerState = null) : IExperimentMessage;

    /// <summary>
    /// Resume a stopped or crashed experiment. The coordinator re-reads the space and hardware the experiment
    /// came from and compares them, and the simulator version, with what the experiment recorded: a change is
    /// refused with the difference. With <paramref name="ForkAs"/> the experiment continues instead as a new
    /// experiment of that name, on the current space, hardware and simulator, from the old controller state.
    /// </summary>
    public sealed record ResumeExperiment(string Name, string? ForkAs = null) : IExperimentMessage;

    public sealed record ExperimentAccepted(string Name, bool Resumed, int TrialsDone) : IExperimentMessage;

    public sealed record ExperimentRefused(string Name, string Reason) : IExperimentMessage;

    /// <summary>Ask the experiment to send <see cref="ExperimentProgress"/> to the sender after every change, and <see cref="ExperimentFinished"/> at the end.</summary>
    public sealed record WatchExperiment(string Name) : IExperimentMessage;

    public sealed record ExperimentProgress(string Name, int Proposed, int Completed, int Failed, int InFlight, int Reused, double? BestReward,
        int ParetoSize, int Target) : IExperimentMessage;

    public sealed record StopExperiment(string Name) : IExperimentMessage;

    /// <summary>Ask an experiment for its state (a client of a remote cluster reports from it).</summary>
    public sealed record GetExperimentState(string Name) : IExperimentMessage;

    /// <summary>The experiment's state in its snapshot form (null: no such experiment); whether it is running.</summary>
    public sealed record ExperimentStateReply(string Name, ExperimentSnapshotV2? Snapshot, bool Running) : IExperimentMessage;

    // Trainer agents find experiments through the registry.

    /// <summary>A trainer agent joins; the registry tells every running experiment (and later ones) about it.</summary>
    public sealed record RegisterTrainer(string AgentId, int Slots) : IExperimentMessage;

    /// <summary>Registry → experiment: an agent with this many slots exists (the sender of the registration is the agent).</summary>
    public sealed record TrainerAvailable(string AgentId, int Slots) : IExperimentMessage;

    // Events (the ledger).

    public sealed record ExperimentCreated(ExperimentSpec Spec, string ControllerState, long AtUnixMs) : IExperimentEvent;

    /// <summary>A batch proposed by the controller (vectors and hashes), with the controller's state after proposing.</summary>
    public sealed record TrialsProposed(int FirstTrialId, IReadOnlyList<int[]> Vectors, IReadOnlyList<string> Hashes, string ControllerState)
        : IExperimentEvent;

    /// <summary>The trial is the same network as an earlier one: it takes that trial's result instead of being evaluated.</summary>
    public sealed record TrialReused(int TrialId, int SourceTrialId) : IExperimentEvent;

    /// <summary>
    /// A dispatch attempt: "cost" (evaluator) or "quality" (trainer), to which worker, and when. <paramref name="Unit"/>
    /// is the quality training (seed) it is for when a trial has several (written only when not the first).
    /// </summary>
    public sealed record DispatchAttempted(int TrialId, WorkKind Work, int Attempt, string Worker, long AtUnixMs,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Unit = 0) : IExperimentEvent;

    public sealed record CostRecorded(int TrialId, CostSummary Cost, string Node) : IExperimentEvent;

    /// <summary>One proxy training's result; <paramref name="Unit"/>: which of the trial's trainings (written only when not the first).</summary>
    public sealed record QualityRecorded(int TrialId, double Score, double Loss, double WallSeconds, double StepsPerSecond, string Worker,
        string? WeightsPath, string? WeightsSha256, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Unit = 0) : IExperimentEvent;

    public sealed record TrialFailed(int TrialId, string Reason) : IExperimentEvent;

    /// <summary>
    /// An attempt ended because the node holding it left the cluster (crashed and was downed, or shut down):
    /// not a failure. It gives its attempt number back — the work goes out again under the same number — so
    /// <c>MaxAttempts</c> counts real failures only.
    /// </summary>
    public sealed record AttemptPreempted(int TrialId, WorkKind Work, int Attempt, string Worker, string Reason,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Unit = 0) : IExperimentEvent;

    /// <summary>The controller observed these trials' rewards; its state afterwards.</summary>
    public sealed record ControllerUpdated(IReadOnlyList<int> TrialIds, IReadOnlyList<double> Rewards, string ControllerState) : IExperimentEvent;

    public sealed record ExperimentFinished(long AtUnixMs) : IExperimentEvent;

    /// <summary>Sent to watchers when the experiment has every trial accounted for.</summary>
    public sealed record ExperimentDone(string Name, int Completed, int Failed) : IExperimentMessage;

    /// <summary>The experiment stopped on a storage fault that waiting will not cure (a full or read-only SQLite disk): not restarted; the reason says what to do.</summary>
    public sealed record ExperimentHalted(string Name, string Reason) : IExperimentMessage;
}
