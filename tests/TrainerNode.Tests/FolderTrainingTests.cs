using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Training;

namespace NasCluster.TrainerNode.Tests;

/// <summary>The proxy on a user's own dataset: its channels in, its classes out, its own cached teacher, and an experiment's record retraining exactly.</summary>
[Collection("torch")]
[Trait("Tier", "slow")]
public sealed class FolderTrainingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("nascluster-folder-train-").FullName;

    public FolderTrainingTests() => TorchSharp.torch.set_num_threads(TeacherFixture.Threads);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_candidate_trains_on_an_rgb_folder_dataset_with_a_teacher_of_its_own_and_a_record_retrains_it_exactly()
    {
        var data = Path.Combine(_root, "shapes");
        PillowDataset.Write(data, perClass: 40);
        var environment = new ProxyEnvironment { DataDirectory = data, TeacherCacheDirectory = Path.Combine(_root, "teachers"), Teacher = TorchFixture.Tiny };
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var candidate = space.Build(space.Sample(new DeterministicRng(4)));
        var config = new TrainingConfig { Steps = 30, Seed = 5 };

        var direct = ProxyTrainer.Run(candidate, config, environment);
        Assert.True(direct.Succeeded, direct.FailureReason);
        Assert.InRange(direct.Score, 0, 1);
        var splits = Datasets.Load(data);
        var proxy = ProxyScaling.Scale(candidate, ProxyRecipes.For(environment.Spec, splits));
        Assert.Equal(3, proxy.Infos[0].OutputShape.Channels);         // RGB in
        Assert.Equal(3, proxy.ShapeOf(proxy.Outputs[0]).Channels);     // three classes out
        Assert.Equal(direct.Params, proxy.Params);
        // The teacher is the folder dataset's own, cached under a key of its content (not Fashion-MNIST's).
        Assert.NotEqual(Teacher.Key(TorchFixture.Tiny, FashionMnist.Load()), Teacher.Key(TorchFixture.Tiny, splits));
        Assert.True(Directory.Exists(Path.Combine(_root, "teachers", Teacher.Key(TorchFixture.Tiny, splits))));

        // What an experiment records, sent to a node whose own defaults differ (no --data, another batch, another
        // teacher), trains the same way: the same score to the last digit.
        var record = ProxyRecipes.Describe(splits, config, environment);
        var otherNode = new ProxyEnvironment { TeacherCacheDirectory = environment.TeacherCacheDirectory, Teacher = new TeacherConfig { Steps = 9 } };
        var again = ProxyTrainer.Run(candidate, new TrainingConfig { Steps = 30, Seed = 5, BatchSize = 16 }, otherNode, training: record);
        Assert.True(again.Succeeded, again.FailureReason);
        Assert.Equal(direct.Score, again.Score);
        Assert.Equal(direct.Loss, again.Loss);
    }
}
