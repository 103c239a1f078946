using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>What a user asks for when starting a search; validated into an <see cref="ExperimentSpec"/>.</summary>
public sealed record SearchRequest
{
    public required string Name { get; init; }
    public required string Space { get; init; }
    public string Controller { get; init; } = "reinforce";
    public int Trials { get; init; } = 50;
    public int BatchSize { get; init; } = 10;
    public long Seed { get; init; }
    /// <summary>The mode a search runs in unless told otherwise.</summary>
    public const SearchMode DefaultMode = SearchMode.Pipelined;

    public SearchMode Mode { get; init; } = DefaultMode;

    /// <summary>Pipelined mode's window: trials in flight at most (default two batches).</summary>
    public int? Window { get; init; }
    public string Hardware { get; init; } = HardwarePresets.Default;
    public string Fidelity { get; init; } = "analytical";
    public string Objective { get; init; } = "mnas";
    public double? LatencyTargetMs { get; init; } = 1.5;
    public double? EnergyTargetMj { get; init; }
    public double? ParamsTarget { get; init; }
    public string Quality { get; init; } = "proxy";
    public int ProxySteps { get; init; } = 300;

    /// <summary>Trainings per trial with different seeds; the trial's quality is their mean, with its standard error.</summary>
    public int ProxySeeds { get; init; } = 1;

    /// <summary>The most trainings per trial <c>--proxy-seeds</c> accepts.</summary>
    public const int MaxProxySeeds = 16;

    /// <summary>The proxy's dataset (<c>--data</c>): IDX files or one folder of images per class; null: Fashion-MNIST.</summary>
    public string? Data { get; init; }

    /// <summary>The distillation teacher's recipe (null: the default); tests use a small one.</summary>
    public TrainerNode.Training.TeacherConfig? Teacher { get; init; }
    public int MaxAttempts { get; init; } = 3;
    public int EvaluationTimeoutMs { get; init; } = 30_000;
    public int TrainingTimeoutMs { get; init; } = 600_000;
    public int SnapshotEvery { get; init; } = 1000;
}

public static class ExperimentSpecs
{
    /// <exception cref="NasInputException">Anything invalid, named.</exception>
    public static ExperimentSpec Build(SearchRequest r)
    {
        ValidateName(r.Name);
        var space = BuiltInSpaces.Resolve(r.Space);
        var spaceJson = File.Exists(r.Space) ? File.ReadAllText(r.Space) : BuiltInSpaces.Text(space.Name);
        var spaceSource = File.Exists(r.Space) ? Path.GetFullPath(r.Space) : $"{BuiltIn}{space.Name}";
        if (!Kinds.TryParse<QualityMode>(r.Quality, out var quality)) throw new NasInputException($"--quality must be 'proxy' or 'synthetic' (got '{r.Quality}')");
        var controller = Controllers.Parse(r.Controller);
        if (r.Trials < 1) throw new NasInputException($"--trials must be at least 1 (got {r.Trials})");
        if (r.BatchSize < 1) throw new NasInputException($"--batch must be at least 1 (got {r.BatchSize})");
        if (r.Window is not null && r.Mode != SearchMode.Pipelined) throw new NasInputException($"--window is for --mode pipelined (the mode is {Kinds.Name(r.Mode)})");
        var window = r.Mode == SearchMode.Pipelined ? r.Window ?? 2 * r.BatchSize : 0;
        if (r.Mode == SearchMode.Pipelined && window < r.BatchSize)
            throw new NasInputException($"--window must be at least the batch ({r.BatchSize}) so that a whole batch can be in flight (got {window})");
        if (r.ProxySteps < 1) throw new NasInputException($"--proxy-steps must be at least 1 (got {r.ProxySteps})");
        if (r.ProxySeeds < 1 || r.ProxySeeds > SearchRequest.MaxProxySeeds)
            throw new NasInputException($"--proxy-seeds must be 1–{SearchRequest.MaxProxySeeds} (got {r.ProxySeeds})");
        if (!Kinds.TryParse<Fidelity>(r.Fidelity, out var fidelity)) throw new NasInputException($"--fidelity must be 'analytical' or 'detailed' (got '{r.Fidelity}')");
        var hw = HardwarePresets.Resolve(r.Hardware);
        var hardwareJson = HardwarePresets.Contains(r.Hardware) ? null : File.ReadAllText(r.Hardware);
        var hardwareSource = HardwarePresets.Contains(r.Hardware) ? r.Hardware : Path.GetFullPath(r.Hardware);
        var latency = r.Objective == "quality" ? null : r.LatencyTargetMs;
        var reward = RewardFunction.Parse(r.Objective, latency, r.EnergyTargetMj, r.ParamsTarget);
        if (r.MaxAttempts < 1) throw new NasInputException($"--max-attempts must be at least 1 (got {r.MaxAttempts})");
        return new ExperimentSpec(r.Name, spaceJson, spaceSource, space.Fingerprint, controller, r.Seed, r.Trials, r.BatchSize, r.Mode == SearchMode.Asynchronous,
            hw.Name, hardwareJson, HardwareFingerprint.Of(hw), hardwareSource, HardwareFingerprint.Describe(hw), fidelity, CostModel.Version,
            new RewardSpec(r.Objective, latency, r.EnergyTargetMj, r.ParamsTarget, reward.W, reward.Beta, reward.InfeasibleReward),
            quality, r.ProxySteps, r.MaxAttempts, r.EvaluationTimeoutMs, r.TrainingTimeoutMs, r.SnapshotEvery, null, window,
            r.ProxySeeds > 1 ? r.ProxySeeds : 0, quality == QualityMode.Proxy ? Training(r, space.Task) : null);
    }

    /// <summary>
    /// What a proxy search records of its training: the dataset (read now, so a bad one is refused before the
    /// search starts, and identified by its content hash) and the recipe, so every trainer, resume and fork
    /// trains the same way.
    /// </summary>
    private static ProxyTraining Training(SearchRequest r, string task)
    {
        var proxyTask = TrainerNode.Proxy.ProxyTasks.Parse(task);
        if (proxyTask == TrainerNode.Proxy.ProxyTask.Text)
        {
            // --data names WordNet's directory for an nlp space; --teacher-steps and the like shape the text teacher.
            var text = new TrainerNode.Training.ProxyEnvironment { TextDirectory = r.Data };
            if (r.Teacher is not null) text = text with { TextTeacher = r.Teacher };
            return TrainerNode.Training.ProxyRecipes.Describe(TrainerNode.Training.ProxyTrainer.Corpus(text), TrainerNode.Training.TrainingConfig.For(proxyTask), text);
        }
        var environment = new TrainerNode.Training.ProxyEnvironment { DataDirectory = r.Data };
        if (r.Teacher is not null) environment = environment with { Teacher = r.Teacher };
        var data = TrainerNode.Data.Datasets.Load(r.Data);
        if (TrainerNode.Proxy.ProxyTasks.UsesScenes(proxyTask)) TrainerNode.Data.Scenes.For(data, environment.ScenesFor(proxyTask)); // a dataset scenes cannot be made of: refused now
        return TrainerNode.Training.ProxyRecipes.Describe(data, TrainerNode.Training.TrainingConfig.For(proxyTask), environment, proxyTask);
    }

    private const string BuiltIn = "built-in:";

    /// <summary>What a proxy search's quality measures: "accuracy", "mIoU" or "mAP@0.5".</summary>
    public static string QualityMetric(ExperimentSpec spec) => TrainerNode.Proxy.ProxyTasks.Metric(TrainerNode.Proxy.ProxyTasks.Parse(spec.Training?.Task));

    /// <summary>How status, the report and the model card name a search's quality: proxy or synthetic, the dataset, the seeds.</summary>
    public static string DescribeQuality(ExperimentSpec spec)
    {
        var seeds = spec.Seeds > 1 ? $"; the mean of {spec.Seeds} seeds per trial ± its standard error" : "";
        if (spec.QualityMode != QualityMode.Proxy) return "synthetic (no training)" + seeds;
        var data = spec.Training?.Data is { } d
            ? (d.Kind == "idx" && d.Classes == 10 && d.Source == Path.GetFullPath(TrainerNode.Data.FashionMnist.DefaultDirectory) ? "Fashion-MNIST"
                : $"{d.Kind} dataset {d.Source}") + $" ({d.Classes} classes, {d.Channels} channel{(d.Channels > 1 ? "s" : "")}, content {d.ContentHash})"
            : "Fashion-MNIST";
        if (spec.Training is { Task: "segmentation", Scenes: { } scenes })
            return $"proxy, {spec.ProxySteps} steps of per-pixel cross-entropy on {scenes.Canvas}×{scenes.Canvas} scenes of 1–{scenes.MaxItems} items from {data}; " +
                   $"score mIoU on {scenes.ValidationScenes} validation scenes" + seeds;
        if (spec.Training is { Task: "detection", Scenes: { } boxes })
            return $"proxy, {spec.ProxySteps} steps of SSD losses (anchor matching, smooth-L1 boxes, hard-negative cross-entropy) on {boxes.Canvas}×{boxes.Canvas} " +
                   $"scenes of 1–{boxes.MaxItems} items from {data}; score mAP@0.5 on {boxes.ValidationScenes} validation scenes" + seeds;
        if (spec.Training is { Task: "nlp", Text: { } text, Data: var corpus })
            return $"proxy, {spec.ProxySteps} steps of distillation from a text teacher on WordNet glosses ({corpus.Source}, {corpus.Classes} supersenses, " +
                   $"{text.SequenceLength} tokens, content {corpus.ContentHash}); score accuracy on {corpus.ValidationImages} validation glosses" + seeds;
        return $"proxy, {spec.ProxySteps} steps of distillation on {data}" + seeds;
    }

    /// <summary>The spec of a search run in memory (<see cref="SearchRunner"/>): no files, no hardware of its own, work done inline.</summary>
    public static ExperimentSpec InMemory(Space space, ControllerKind controller, int trials, int batchSize, RewardFunction reward, long seed = 0) =>
        new("in-memory", "", $"in-memory:{space.Name}", space.Fingerprint, controller, seed, trials, batchSize, false, "in-memory", null, "in-memory",
            "in-memory", "", Fidelity.Analytical, CostModel.Version, RewardSpecOf(reward), QualityMode.Synthetic, 1, 1, 0, 0, int.MaxValue, null);

    /// <summary>The persisted definition of a reward (what <see cref="ExperimentState.RewardOf"/> turns back into it).</summary>
    public static RewardSpec RewardSpecOf(RewardFunction r)
    {
        double? Target(CostMetric m) => r.Targets.FirstOrDefault(t => t.Metric == m)?.Target;
        return new RewardSpec(r.Kind.ToString().ToLowerInvariant(), Target(CostMetric.LatencyMs), Target(CostMetric.EnergyMj), Target(CostMetric.Params),
            r.W, r.Beta, r.InfeasibleReward);
    }

    /// <summary>What <c>resume</c> found when it compared an experiment with the world it came from.</summary>
    /// <param name="Differences">Changes that make results incomparable (refused unless forked).</param>
    /// <param name="Notes">Harmless findings (a space file that is gone: the experiment's own copy is used).</param>
    /// <param name="Current">The spec on today's space, hardware and simulator (what a fork runs).</param>
    public sealed record ResumeCheck(IReadOnlyList<string> Differences, IReadOnlyList<string> Notes, ExperimentSpec Current);

    /// <summary>
    /// Re-reads the space and hardware an experiment was created from (a built-in name or a file) and
    /// compares them, and the simulator version, with what the experiment recorded.
    /// </summary>
    public static ResumeCheck CheckResume(ExperimentSpec spec)
    {
        var differences = new List<string>();
        var notes = new List<string>();
        var current = spec with { SimulatorVersion = CostModel.Version };

        string? text = null;
        if (spec.SpaceSource.StartsWith(BuiltIn, StringComparison.Ordinal))
        {
            var name = spec.SpaceSource[BuiltIn.Length..];
            if (BuiltInSpaces.Names.Contains(name)) text = BuiltInSpaces.Text(name);
            else notes.Add($"the built-in space '{name}' no longer exists; the experiment's own copy is used");
        }
        else if (File.Exists(spec.SpaceSource)) text = File.ReadAllText(spec.SpaceSource);
        else notes.Add($"the space file {spec.SpaceSource} is gone; the experiment's own copy is used");
        if (text is not null)
        {
            var old = SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource);
            try
            {
                var now = SearchSpaceLoader.Parse(text, spec.SpaceSource);
                if (now.Fingerprint != spec.SpaceFingerprint)
                {
                    differences.Add($"the search space {spec.SpaceSource} changed ({SpaceDifference(old, now)})");
                    current = current with { SpaceJson = text, SpaceFingerprint = now.Fingerprint };
                }
            }
            catch (NasInputException e)
            {
                differences.Add($"the search space {spec.SpaceSource} no longer loads: {e.Message}");
            }
        }

        if (spec.SimulatorVersion != CostModel.Version)
            differences.Add($"the simulator changed (experiment: {spec.SimulatorVersion}, now: {CostModel.Version})");

        HardwareConfig? hw = null;
        if (HardwarePresets.Contains(spec.HardwareSource)) hw = HardwarePresets.Get(spec.HardwareSource);
        else if (File.Exists(spec.HardwareSource))
        {
            try
            {
                hw = HardwareFile.Load(spec.HardwareSource);
            }
            catch (NasInputException e)
            {
                differences.Add($"the hardware file {spec.HardwareSource} no longer loads: {e.Message}");
            }
        }
        else notes.Add($"the hardware {spec.HardwareSource} is gone; the experiment's own copy is used");
        if (hw is not null && HardwareFingerprint.Of(hw) != spec.HardwareFingerprint)
        {
            var before = spec.HardwareValues.Split(';').Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f.ElementAtOrDefault(1) ?? "");
            var changed = HardwareFingerprint.Fields(hw).Where(f => !before.TryGetValue(f.Name, out var v) || v != f.Value)
                .Select(f => $"{f.Name} {before.GetValueOrDefault(f.Name, "?")} → {f.Value}").ToList();
            differences.Add($"the hardware '{spec.HardwareSource}' changed ({(changed.Count > 0 ? string.Join(", ", changed) : "fingerprint only")})");
            current = current with
            {
                Hardware = hw.Name,
                HardwareJson = spec.HardwareJson is null ? null : File.ReadAllText(spec.HardwareSource),
                HardwareFingerprint = HardwareFingerprint.Of(hw),
                HardwareValues = HardwareFingerprint.Describe(hw),
            };
        }
        return new ResumeCheck(differences, notes, current);
    }

    /// <summary>Decisions added, removed or given other choices; otherwise "the template changed".</summary>
    internal static string SpaceDifference(Space old, Space now)
    {
        var before = old.Decisions.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var after = now.Decisions.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var parts = new List<string>();
        foreach (var d in now.Decisions.Where(d => !before.ContainsKey(d.Name))) parts.Add($"decision {d.Name} added");
        foreach (var d in old.Decisions.Where(d => !after.ContainsKey(d.Name))) parts.Add($"decision {d.Name} removed");
        foreach (var d in now.Decisions.Where(d => before.ContainsKey(d.Name)))
        {
            var was = before[d.Name].Choices;
            if (!was.SequenceEqual(d.Choices))
                parts.Add($"decision {d.Name} choices [{string.Join(", ", was)}] → [{string.Join(", ", d.Choices)}]");
        }
        const int shown = 5;
        return parts.Count == 0 ? "same decisions; the template or its defaults changed"
            : parts.Count <= shown ? string.Join("; ", parts)
            : string.Join("; ", parts.Take(shown)) + $"; and {parts.Count - shown} more";
    }

    /// <summary>
    /// The spec of a fork: the parent's settings on today's space, hardware and simulator, under a new name,
    /// with the trials the parent had left.
    /// </summary>
    public static ExperimentSpec Fork(ExperimentSpec current, string newName, int trialsDone)
    {
        ValidateName(newName);
        return current with { Name = newName, ForkedFrom = current.Name, Trials = Math.Max(1, current.Trials - trialsDone) };
    }

    public static void ValidateName(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100 || !name.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new NasInputException($"experiment name '{name}' must be 1–100 letters, digits, '-', '_' or '.'");
    }
}
