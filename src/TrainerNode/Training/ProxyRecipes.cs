using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.TrainerNode.Training;

/// <summary>
/// Between a trainer's settings and what an experiment records of them (<see cref="ProxyTraining"/>): the
/// coordinator records the task, dataset and recipe a search will train with, and every trainer that gets an
/// assignment trains with exactly that, whatever its own defaults.
/// </summary>
public static class ProxyRecipes
{
    /// <summary>
    /// What an experiment records: the task, the dataset (content hash included), the student's recipe and scaling,
    /// the teacher's recipe and, for segmentation and detection, the scenes (trained without a teacher: the record says weight 0).
    /// </summary>
    public static ProxyTraining Describe(DatasetSplits data, TrainingConfig config, ProxyEnvironment environment, ProxyTask task = ProxyTask.Classification)
    {
        var teacher = new ProxyTeacherRecipe(environment.Teacher.Steps, environment.Teacher.BatchSize, environment.Teacher.LearningRate, environment.Teacher.Seed,
            environment.Teacher.Widths);
        if (task == ProxyTask.Classification)
            return new(data.Describe(), config.BatchSize, config.LearningRate, config.Temperature, config.DistillationWeight,
                environment.Spec.WidthMultiplier, environment.Spec.Resolution, teacher);
        var s = environment.ScenesFor(task);
        return new(data.Describe(), config.BatchSize, config.LearningRate, config.Temperature, 0, environment.Spec.WidthMultiplier, s.Canvas, teacher,
            ProxyTasks.Name(task), new ProxyScenes(s.Canvas, s.MaxItems, s.TrainScenes, s.ValidationScenes, unchecked((long)s.Seed), s.MaskThreshold, s.MaxOverlap,
                s.MinItemSize, s.MaxItemSize));
    }

    /// <summary>What an NLP search records: the corpus (content hash included), the student's recipe and scaling, the text teacher's recipe and the text recipe.</summary>
    public static ProxyTraining Describe(TextCorpus corpus, TrainingConfig config, ProxyEnvironment environment)
    {
        var t = environment.TextTeacher ?? Teacher.TextDefaults;
        var r = corpus.Recipe;
        return new(corpus.Describe(), config.BatchSize, config.LearningRate, config.Temperature, config.DistillationWeight, environment.Spec.WidthMultiplier,
            r.SequenceLength, new ProxyTeacherRecipe(t.Steps, t.BatchSize, t.LearningRate, t.Seed, t.Widths), ProxyTasks.Name(ProxyTask.Text),
            Text: new ProxyText(r.SequenceLength, r.Vocabulary, r.PerClass, unchecked((long)r.Seed)));
    }

    /// <summary>The recipe and environment a recorded training means (the steps and seed come with the assignment).</summary>
    public static (TrainingConfig Config, ProxyEnvironment Environment) Apply(ProxyTraining training, TrainingConfig config, ProxyEnvironment environment)
    {
        var teacher = new TeacherConfig
        {
            Steps = training.Teacher.Steps,
            BatchSize = training.Teacher.BatchSize,
            LearningRate = training.Teacher.LearningRate,
            Seed = training.Teacher.Seed,
            Widths = training.Teacher.Widths,
        };
        return (config with
        {
            BatchSize = training.BatchSize,
            LearningRate = training.LearningRate,
            Temperature = training.Temperature,
            DistillationWeight = training.DistillationWeight,
        },
        environment with
        {
            Spec = environment.Spec with
            {
                WidthMultiplier = training.WidthMultiplier,
                Resolution = training.Resolution,
                Task = ProxyTasks.Parse(training.Task),
                Vocabulary = training.Text?.Vocabulary ?? environment.Spec.Vocabulary,
            },
            Teacher = training.Text is null ? teacher : environment.Teacher,
            TextTeacher = training.Text is null ? environment.TextTeacher : teacher,
            Scenes = training.Scenes is { } s
                ? new SceneRecipe(s.Canvas, s.MaxItems, s.TrainScenes, s.ValidationScenes, unchecked((ulong)s.Seed), s.MaskThreshold, s.MaxOverlap, s.MinItemSize, s.MaxItemSize)
                : environment.Scenes,
            Text = training.Text is { } x ? new TextRecipe(x.SequenceLength, x.Vocabulary, x.PerClass, unchecked((ulong)x.Seed)) : environment.Text,
        });
    }

    /// <summary>The proxy scaling a recorded training used (null: the defaults of experiments older than recording it).</summary>
    public static ProxySpec SpecOf(ProxyTraining? training) =>
        training is null ? ProxySpec.Default
        : Shape(ProxySpec.Default with
        {
            WidthMultiplier = training.WidthMultiplier,
            Resolution = training.Resolution,
            Task = ProxyTasks.Parse(training.Task),
            Vocabulary = training.Text?.Vocabulary ?? ProxySpec.Default.Vocabulary,
        }, training.Data.Classes, training.Data.Channels);

    /// <summary>The proxy scaling for a task on a dataset: classification takes its channels in and its classes out; segmentation its scenes (grey, background + classes).</summary>
    public static ProxySpec For(ProxySpec spec, DatasetSplits data) => Shape(spec, data.Classes, data.Channels);

    private static ProxySpec Shape(ProxySpec spec, int classes, int channels) =>
        ProxyTasks.UsesScenes(spec.Task) ? spec with { Classes = classes + 1, InputChannels = 1 } // grey scenes; the background is a class
        : spec.Task == ProxyTask.Text ? spec with { Classes = classes, InputChannels = 1 } // token ids
        : spec with { Classes = classes, InputChannels = channels };
}
