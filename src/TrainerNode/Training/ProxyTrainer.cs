using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.TrainerNode.Training;

/// <summary>Where a trainer finds its data and teacher, and how it shrinks candidates.</summary>
public sealed record ProxyEnvironment
{
    /// <summary>The dataset (Fashion-MNIST-style IDX files, or one folder per class); null: Fashion-MNIST where the Debian package puts it.</summary>
    public string? DataDirectory { get; init; }
    public string? TeacherCacheDirectory { get; init; }
    public ProxySpec Spec { get; init; } = ProxySpec.Default;
    public TeacherConfig Teacher { get; init; } = new();

    /// <summary>How scenes are built from the dataset; null: each task's default (an experiment's record overrides it).</summary>
    public SceneRecipe? Scenes { get; init; }

    /// <summary>The scenes a task trains on here.</summary>
    public SceneRecipe ScenesFor(ProxyTask task) => Scenes ?? SceneRecipe.For(task);

    /// <summary>Where WordNet is (the NLP proxy's corpus); null: <c>$NASCLUSTER_WORDNET</c> or Debian's <c>/usr/share/wordnet</c>.</summary>
    public string? TextDirectory { get; init; }

    /// <summary>How the text task is cut; null: <see cref="TextRecipe.Default"/> (an experiment's record overrides it).</summary>
    public TextRecipe? Text { get; init; }

    /// <summary>The text teacher's recipe; null: <see cref="Training.Teacher.TextDefaults"/>.</summary>
    public TeacherConfig? TextTeacher { get; init; }
}

/// <summary>
/// The quality proxy of one candidate: scale its IR down (<see cref="ProxyScaling"/>), build it in
/// TorchSharp, distil the cached teacher into it for a fixed step budget, and score it by accuracy on the
/// fixed validation split. Deterministic for a seed and a libtorch thread count.
/// </summary>
public static class ProxyTrainer
{
    /// <summary>
    /// Loads the dataset and trains (or finds) the cached teacher up front, so a node or a search fails fast
    /// on a missing dataset and the first trial does not carry the teacher's minutes.
    /// </summary>
    /// <exception cref="NasInputException">The dataset is missing.</exception>
    public static void Prepare(ProxyEnvironment environment, bool distillation = true, Action<string>? log = null, ProxyTraining? training = null,
        CancellationToken cancel = default)
    {
        if (training is not null) environment = ProxyRecipes.Apply(training, new TrainingConfig(), environment).Environment;
        if (environment.Spec.Task == ProxyTask.Text)
        {
            var corpus = Corpus(environment, training);
            if (distillation) Teacher.GetOrTrain(corpus, environment.TextTeacher ?? Teacher.TextDefaults, environment.TeacherCacheDirectory, log, cancel);
            return;
        }
        var data = Data(environment, training);
        if (ProxyTasks.UsesScenes(environment.Spec.Task)) Scenes.For(data, environment.ScenesFor(environment.Spec.Task)); // no teacher: built once, checked now
        else if (distillation) Teacher.GetOrTrain(data, environment.Teacher, environment.TeacherCacheDirectory, log, cancel);
    }

    /// <summary>The dataset to train on: the one an experiment recorded (by content hash), else the environment's.</summary>
    public static DatasetSplits Data(ProxyEnvironment environment, ProxyTraining? training = null) =>
        training is null ? Datasets.Load(environment.DataDirectory) : Datasets.Resolve(training.Data, environment.DataDirectory);

    /// <summary>
    /// The NLP proxy's corpus: WordNet's glosses cut by the environment's recipe, accepted only with the content hash an
    /// experiment recorded (another WordNet version, another recipe: refused, never trained on).
    /// </summary>
    /// <exception cref="NasInputException">WordNet missing, or not the recorded corpus.</exception>
    public static TextCorpus Corpus(ProxyEnvironment environment, ProxyTraining? training = null)
    {
        if (training is null) return Glosses.Load(environment.TextDirectory, environment.Text);
        var tried = new List<string>();
        foreach (var dir in new[] { training.Data.Source, Glosses.ResolveDirectory(environment.TextDirectory) }.Distinct())
        {
            TextCorpus corpus;
            try
            {
                corpus = Glosses.Load(dir, environment.Text);
            }
            catch (NasInputException e)
            {
                tried.Add($"{dir}: {e.Message}");
                continue;
            }
            if (corpus.Fingerprint == training.Data.ContentHash) return corpus;
            tried.Add($"{dir}: content hash {corpus.Fingerprint}");
        }
        throw new NasInputException($"the experiment's text corpus (content hash {training.Data.ContentHash}) is not here: {string.Join("; ", tried)}");
    }

    /// <summary>
    /// Trains one candidate. Problems of the candidate (cannot be scaled or built, diverges) are a failed
    /// result with the reason; problems of the environment (no dataset) throw <see cref="NasInputException"/>;
    /// cancellation throws <see cref="OperationCanceledException"/>. With <paramref name="training"/> (what an
    /// experiment recorded) the dataset, recipe and scaling are exactly those, whatever the environment's defaults.
    /// </summary>
    public static ProxyResult Run(Network candidate, TrainingConfig config, ProxyEnvironment environment, IProgress<TrainingProgress>? progress = null,
        string? saveWeightsTo = null, Action<string>? log = null, ProxyTraining? training = null, CancellationToken cancel = default)
    {
        if (training is not null) (config, environment) = ProxyRecipes.Apply(training, config, environment);
        else
        {
            // Not recorded (the proxy command, benchmarks): the candidate says what it is.
            ProxyTask task;
            try
            {
                task = ProxyTasks.Of(candidate);
            }
            catch (NasInputException e)
            {
                return ProxyResult.Failed($"cannot build the proxy: {e.Message}", candidate.Hash);
            }
            environment = environment with
            {
                Spec = environment.Spec with { Task = task, Resolution = ProxyTasks.UsesScenes(task) ? environment.ScenesFor(task).Canvas : environment.Spec.Resolution },
            };
        }
        var job = environment.Spec.Task switch
        {
            ProxyTask.Text => TextJob(Corpus(environment, training), environment, config, log, cancel),
            ProxyTask.Segmentation => SegmentationJob(Data(environment, training), environment, ref config),
            ProxyTask.Detection => DetectionJob(Data(environment, training), environment, ref config),
            _ => ClassificationJob(Data(environment, training), environment, config, log, cancel),
        };
        var clock = Stopwatch.StartNew();
        Network proxy;
        Bound bound;
        try
        {
            proxy = ProxyScaling.Scale(candidate, job.Spec);
            bound = job.Bind(proxy);
        }
        catch (NasInputException e)
        {
            return ProxyResult.Failed($"cannot build the proxy: {e.Message}", candidate.Hash);
        }
        try
        {
            using var module = TrainingLoop.Build(proxy, config.Seed);
            var (loss, rate) = TrainingLoop.Train(module, job.Train, job.TeacherLogits, config, cancel, progress, bound.Loss);
            var (score, validationLoss) = bound.Evaluate(module);
            string? sha = null;
            if (saveWeightsTo is not null)
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(saveWeightsTo));
                if (dir is not null) Directory.CreateDirectory(dir);
                module.save(saveWeightsTo);
                using var file = File.OpenRead(saveWeightsTo);
                sha = Convert.ToHexStringLower(SHA256.HashData(file));
            }
            return new ProxyResult
            {
                Succeeded = true,
                Score = score,
                Metric = job.Metric,
                Loss = loss,
                ValidationLoss = validationLoss,
                StepsPerSecond = rate,
                WallSeconds = clock.Elapsed.TotalSeconds,
                Steps = config.Steps,
                Params = proxy.Params,
                ArchitectureHash = candidate.Hash,
                WeightsPath = saveWeightsTo is null ? null : Path.GetFullPath(saveWeightsTo),
                WeightsSha256 = sha,
            };
        }
        catch (DivergedException e)
        {
            return ProxyResult.Failed(e.Message, candidate.Hash, clock.Elapsed.TotalSeconds);
        }
        catch (NasInputException e)
        {
            return ProxyResult.Failed($"cannot build the proxy: {e.Message}", candidate.Hash, clock.Elapsed.TotalSeconds);
        }
        catch (ExternalException e)
        {
            return ProxyResult.Failed($"libtorch failed: {e.Message.Split('\n')[0]}", candidate.Hash, clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>What differs between the tasks: the scaling, the data, the teacher's soft targets, and (once the proxy is built) the loss and the score.</summary>
    private sealed record Job(ProxySpec Spec, DatasetTensors Train, TorchSharp.torch.Tensor? TeacherLogits, string Metric, Func<Network, Bound> Bind);

    /// <summary>A task's loss (null: cross-entropy, and distillation with a teacher) and scoring, for one proxy network.</summary>
    private sealed record Bound(Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>? Loss, Func<IrModule, (double Score, double Loss)> Evaluate);

    private static Job ClassificationJob(DatasetSplits data, ProxyEnvironment environment, TrainingConfig config, Action<string>? log, CancellationToken cancel)
    {
        var teacher = config.DistillationWeight > 0
            ? Teacher.GetOrTrain(data, environment.Teacher, environment.TeacherCacheDirectory, log, cancel)
            : null;
        var validation = DatasetTensors.Of(data.Validation);
        return new Job(ProxyRecipes.For(environment.Spec, data), DatasetTensors.Of(data.Train), teacher?.TrainLogits, ProxyTasks.Metric(ProxyTask.Classification),
            _ => new Bound(null, module => TrainingLoop.Evaluate(module, validation)));
    }

    /// <summary>Text: WordNet glosses into supersenses, distilled from the cached text teacher, scored by accuracy on the validation glosses.</summary>
    private static Job TextJob(TextCorpus corpus, ProxyEnvironment environment, TrainingConfig config, Action<string>? log, CancellationToken cancel)
    {
        var teacher = config.DistillationWeight > 0
            ? Teacher.GetOrTrain(corpus, environment.TextTeacher ?? Teacher.TextDefaults, environment.TeacherCacheDirectory, log, cancel)
            : null;
        var spec = environment.Spec with
        {
            Task = ProxyTask.Text,
            Resolution = corpus.Recipe.SequenceLength,
            Vocabulary = corpus.Recipe.Vocabulary,
            Classes = corpus.Classes,
            InputChannels = 1,
        };
        var validation = DatasetTensors.Of(corpus.Validation);
        return new Job(spec, DatasetTensors.Of(corpus.Train), teacher?.TrainLogits, ProxyTasks.Metric(ProxyTask.Text),
            _ => new Bound(null, module => TrainingLoop.Evaluate(module, validation)));
    }

    /// <summary>Segmentation: scenes of the dataset's items, per-pixel cross-entropy without a teacher, scored by mIoU on the validation scenes.</summary>
    private static Job SegmentationJob(DatasetSplits data, ProxyEnvironment environment, ref TrainingConfig config)
    {
        var recipe = environment.ScenesFor(ProxyTask.Segmentation);
        var (train, validation) = Scenes.For(data, recipe);
        config = config with { DistillationWeight = 0 };
        var spec = ProxyRecipes.For(environment.Spec with { Resolution = recipe.Canvas }, data);
        var scenes = DatasetTensors.Of(validation);
        return new Job(spec, DatasetTensors.Of(train), null, ProxyTasks.Metric(ProxyTask.Segmentation), _ => new Bound(null, module =>
        {
            var (confusion, loss) = TrainingLoop.Confusion(module, scenes, spec.Classes);
            return (SegmentationMetrics.MeanIoU(confusion), loss);
        }));
    }

    /// <summary>Detection: the same scenes with a box per item, SSD's matching and losses without a teacher, scored by mAP@0.5 on the validation scenes.</summary>
    private static Job DetectionJob(DatasetSplits data, ProxyEnvironment environment, ref TrainingConfig config)
    {
        var recipe = environment.ScenesFor(ProxyTask.Detection);
        var (train, validation) = Scenes.For(data, recipe);
        config = config with { DistillationWeight = 0 };
        var spec = ProxyRecipes.For(environment.Spec with { Resolution = recipe.Canvas }, data);
        return new Job(spec, DatasetTensors.Of(train), null, ProxyTasks.Metric(ProxyTask.Detection), proxy =>
        {
            var detection = new DetectionTraining(proxy, train, validation);
            return new Bound(detection.TrainingLoss, module => detection.Evaluate(module));
        });
    }
}
