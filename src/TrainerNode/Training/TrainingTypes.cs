namespace NasCluster.TrainerNode.Training;

/// <summary>
/// Hyper-parameters of one proxy training. The defaults are the proxy budget the validity benchmark
/// (bench/README.md) measured: a fixed number of steps, Adam with cosine decay, distillation at T = 4.
/// </summary>
public sealed record TrainingConfig
{
    public int Steps { get; init; } = 300;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 0.003;
    public double Temperature { get; init; } = 4.0;

    /// <summary>Weight of the KL(teacher ‖ student)·T² term next to the cross-entropy (0 trains without a teacher).</summary>
    public double DistillationWeight { get; init; } = 1.0;

    public long Seed { get; init; }

    /// <summary>
    /// The default recipe of a task: detection learns at 0.01 (a 300-step proxy of a detection-space candidate:
    /// mAP@0.5 2.6 % at 0.003, 8.5 % at 0.01, 11.4 % at 0.02 — 0.01 keeps a margin from divergence); the others at 0.003.
    /// </summary>
    public static TrainingConfig For(NasCluster.TrainerNode.Proxy.ProxyTask task) =>
        task == NasCluster.TrainerNode.Proxy.ProxyTask.Detection ? new TrainingConfig { LearningRate = 0.01 } : new TrainingConfig();

    /// <summary>Fraction of the steps over which the learning rate rises linearly to its peak before the cosine decay (0: none).</summary>
    public double WarmupFraction { get; init; }

    /// <summary>Gradients are rescaled so their global L2 norm is at most this (0: no clipping).</summary>
    public double ClipNorm { get; init; }

    /// <summary>
    /// Decay of an exponential moving average of the weights and batch-norm statistics that replaces the
    /// trained weights at the end (0: off; the first steps use a shorter average, min(decay, (1+t)/(10+t))).
    /// </summary>
    public double EmaDecay { get; init; }

    /// <summary>What is wrong with the optional recipe settings (warm-up, averaging), or null when they are usable.</summary>
    public string? OptionProblem() =>
        WarmupFraction is < 0 or >= 1 ? FormattableString.Invariant($"warm-up fraction must be in [0, 1) (got {WarmupFraction})")
        : EmaDecay is < 0 or >= 1 ? FormattableString.Invariant($"EMA decay must be in [0, 1) (got {EmaDecay})")
        : null;

    /// <summary>A name for the recipe apart from the seed: what a stored run's key must include.</summary>
    public string Recipe => FormattableString.Invariant(
        $"steps={Steps},batch={BatchSize},lr={LearningRate},T={Temperature},kd={DistillationWeight},warmup={WarmupFraction},clip={ClipNorm},ema={EmaDecay}");

    /// <summary>Every how many steps progress is reported.</summary>
    public int ProgressEvery { get; init; } = 25;
}

/// <summary>What a training reports while it runs.</summary>
public sealed record TrainingProgress(int Step, int Steps, double Loss, double ElapsedSeconds);

/// <summary>
/// The outcome of a proxy training. A failure (an architecture the trainer cannot build, a loss that
/// diverged) is a result with a reason, never an exception that takes the worker down.
/// </summary>
public sealed record ProxyResult
{
    public required bool Succeeded { get; init; }
    public string? FailureReason { get; init; }

    /// <summary>The proxy score on the fixed validation split: accuracy (classification) or mean IoU (segmentation).</summary>
    public double Score { get; init; }

    /// <summary>What <see cref="Score"/> measures: "accuracy" or "mIoU".</summary>
    public string Metric { get; init; } = "accuracy";

    /// <summary>Mean training loss over the last tenth of the steps.</summary>
    public double Loss { get; init; }

    public double ValidationLoss { get; init; }
    public double StepsPerSecond { get; init; }
    public double WallSeconds { get; init; }
    public int Steps { get; init; }
    public long Params { get; init; }
    public string ArchitectureHash { get; init; } = "";
    public string? WeightsPath { get; init; }
    public string? WeightsSha256 { get; init; }

    public static ProxyResult Failed(string reason, string architectureHash = "", double wall = 0) =>
        new() { Succeeded = false, FailureReason = reason, ArchitectureHash = architectureHash, WallSeconds = wall };
}
