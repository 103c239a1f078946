using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.TrainerNode.Training;

/// <summary>
/// Between a trainer's settings and what an experiment records of them (<see cref="ProxyTraining"/>): the
/// coordinator records the dataset and recipe a search will train with, and every trainer that gets an
/// assignment trains with exactly that, whatever its own defaults.
/// </summary>
public static class ProxyRecipes
{
    /// <summary>What an experiment records: the dataset (content hash included), the student's recipe and scaling, the teacher's recipe.</summary>
    public static ProxyTraining Describe(DatasetSplits data, TrainingConfig config, ProxyEnvironment environment) =>
        new(data.Describe(), config.BatchSize, config.LearningRate, config.Temperature, config.DistillationWeight,
            environment.Spec.WidthMultiplier, environment.Spec.Resolution,
            new ProxyTeacherRecipe(environment.Teacher.Steps, environment.Teacher.BatchSize, environment.Teacher.LearningRate, environment.Teacher.Seed,
                environment.Teacher.Widths));

    /// <summary>The recipe and environment a recorded training means (the steps and seed come with the assignment).</summary>
    public static (TrainingConfig Config, ProxyEnvironment Environment) Apply(ProxyTraining training, TrainingConfig config, ProxyEnvironment environment) =>
        (config with
        {
            BatchSize = training.BatchSize,
            LearningRate = training.LearningRate,
            Temperature = training.Temperature,
            DistillationWeight = training.DistillationWeight,
        },
        environment with
        {
            Spec = environment.Spec with { WidthMultiplier = training.WidthMultiplier, Resolution = training.Resolution },
            Teacher = new TeacherConfig
            {
                Steps = training.Teacher.Steps,
                BatchSize = training.Teacher.BatchSize,
                LearningRate = training.Teacher.LearningRate,
                Seed = training.Teacher.Seed,
                Widths = training.Teacher.Widths,
            },
        });

    /// <summary>The proxy scaling a recorded training used (null: the defaults of experiments older than recording it).</summary>
    public static ProxySpec SpecOf(ProxyTraining? training) =>
        training is null ? ProxySpec.Default
        : ProxySpec.Default with
        {
            WidthMultiplier = training.WidthMultiplier,
            Resolution = training.Resolution,
            Classes = training.Data.Classes,
            InputChannels = training.Data.Channels,
        };

    /// <summary>The proxy scaling for a dataset: its channels in, its classes out.</summary>
    public static ProxySpec For(ProxySpec spec, DatasetSplits data) => spec with { Classes = data.Classes, InputChannels = data.Channels };
}
