using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Training;

namespace NasCluster.TrainerNode.Tests;

/// <summary>
/// Shared by the tests that train: fixes libtorch's thread count (results are reproducible for a seed and
/// a thread count), loads Fashion-MNIST, and trains a teacher once into a cache directory this test run
/// owns (removed afterwards). Most tests need a teacher, not a good one: they get a tiny one that trains
/// in seconds (<see cref="TorchFixture"/>); the tests of the teacher's and the distillation's quality get
/// a strong one (<see cref="StrongTeacherFixture"/>, slow tier).
/// </summary>
public abstract class TeacherFixture : IDisposable
{
    public const int Threads = 2;

    protected TeacherFixture(TeacherConfig teacher)
    {
        TorchSharp.torch.set_num_threads(Threads);
        Data = FashionMnist.Load();
        CacheDirectory = Directory.CreateTempSubdirectory("nascluster-teacher-").FullName;
        Environment = new ProxyEnvironment { TeacherCacheDirectory = CacheDirectory, Teacher = teacher };
        Teacher = Training.Teacher.GetOrTrain(Data, Environment.Teacher, CacheDirectory);
    }

    public DatasetSplits Data { get; }

    public string CacheDirectory { get; }

    public ProxyEnvironment Environment { get; }

    public TeacherArtifacts Teacher { get; }

    public void Dispose()
    {
        try { Directory.Delete(CacheDirectory, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

/// <summary>A tiny teacher (a few seconds of training): distillation runs for real, its targets are just weak.</summary>
public sealed class TorchFixture() : TeacherFixture(Tiny)
{
    public static readonly TeacherConfig Tiny = new() { Steps = 40, Widths = [8, 16, 32], Seed = 7 };
}

/// <summary>
/// The teacher the proxy really uses, trained for a quarter of its steps (about 2 minutes on two idle cores instead of
/// 5–8, which the slow tier cannot afford beside the cluster's tests): the same network, data and recipe, so
/// what makes it strong is tested; the default's own accuracy (92.5 %) is what the proxy bench prints and records.
/// </summary>
public sealed class StrongTeacherFixture() : TeacherFixture(Recipe)
{
    public static readonly TeacherConfig Recipe = new() { Steps = 300 };
}

[CollectionDefinition("torch")]
public sealed class TorchCollection : ICollectionFixture<TorchFixture>;

[CollectionDefinition("torch-real-teacher")]
public sealed class RealTeacherCollection : ICollectionFixture<StrongTeacherFixture>;

/// <summary>Networks no proxy trains, for the tests of how that fails.</summary>
public static class Untrainable
{
    /// <summary>Two image inputs side by side: neither an image network of one input nor a text encoder.</summary>
    public static NasCluster.Shared.Architecture.Network TwoInputs()
    {
        var b = new NasCluster.Shared.Architecture.NetworkBuilder("two-inputs");
        var x = b.Concat("both", b.Input(32, 32, 1, "left"), b.Input(32, 32, 1, "right"));
        return b.Build(b.Dense(b.GlobalPool(x), 10, name: "logits"));
    }
}
