using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Training;

namespace NasCluster.TrainerNode.Tests;

/// <summary>
/// Shared by the tests that train: fixes libtorch's thread count (results are reproducible for a seed and
/// a thread count), loads Fashion-MNIST, and trains the real teacher once into a cache directory this test
/// run owns (removed afterwards).
/// </summary>
public sealed class TorchFixture : IDisposable
{
    public const int Threads = 2;

    public TorchFixture()
    {
        TorchSharp.torch.set_num_threads(Threads);
        Data = FashionMnist.Load();
        CacheDirectory = Directory.CreateTempSubdirectory("nascluster-teacher-").FullName;
        Environment = new ProxyEnvironment { TeacherCacheDirectory = CacheDirectory };
        Teacher = Training.Teacher.GetOrTrain(Data, Environment.Teacher, CacheDirectory);
    }

    public DatasetSplits Data { get; }

    public string CacheDirectory { get; }

    public ProxyEnvironment Environment { get; }

    public TeacherArtifacts Teacher { get; }

    public void Dispose()
    {
        try { Directory.Delete(CacheDirectory, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition("torch")]
public sealed class TorchCollection : ICollectionFixture<TorchFixture>;
