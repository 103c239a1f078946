using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NasCluster.Shared.Architecture;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Torch;
using TorchSharp;
using static TorchSharp.torch;
using Padding = NasCluster.Shared.Architecture.Padding;
using Tensor = TorchSharp.torch.Tensor;

namespace NasCluster.TrainerNode.Training;

/// <summary>Hyper-parameters of the teacher's (one-off) training.</summary>
public sealed record TeacherConfig
{
    public int Steps { get; init; } = 1200;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 0.003;
    public long Seed { get; init; } = 7;

    /// <summary>Channel widths of the teacher's three conv stages.</summary>
    public int[] Widths { get; init; } = [32, 64, 128];
}

/// <summary>A trained teacher: its soft targets on the training split and how good it is.</summary>
public sealed record TeacherArtifacts(string Key, string Directory, Tensor TrainLogits, double TestAccuracy, double ValidationAccuracy,
    double TrainSeconds, bool FromCache);

/// <summary>
/// The distillation teacher: a VGG-style CNN (three stages of two batch-normed 3×3 convs, max pooling,
/// global pooling, a dense classifier) defined in the IR like every other network, trained once with
/// cross-entropy and cached on disk under a content hash of architecture + data + hyper-parameters +
/// seed. Every trial and experiment on the machine reuses it. Two trainers asking at the same moment are
/// safe: an exclusive lock file makes one train while the other waits, then loads what it wrote; the
/// directory appears atomically (written under a temporary name, then renamed).
/// </summary>
public static class Teacher
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public const int FormatVersion = 1;

    private static readonly ConcurrentDictionary<string, Lazy<TeacherArtifacts>> InProcess = new();

    public static string DefaultCacheDirectory =>
        Environment.GetEnvironmentVariable("NASCLUSTER_CACHE") is { Length: > 0 } c ? Path.Combine(c, "teachers")
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "nascluster", "teachers");

    /// <summary>The teacher for a dataset of <paramref name="channels"/> input channels and <paramref name="classes"/> classes (Fashion-MNIST: 1, 10).</summary>
    public static Network Architecture(TeacherConfig config, int channels = 1, int classes = FashionMnist.Classes)
    {
        var b = new NetworkBuilder("teacher");
        var x = b.Input(DatasetTensors.Size, DatasetTensors.Size, channels);
        for (var s = 0; s < config.Widths.Length; s++)
        {
            using var _ = b.Scope($"stage{s}");
            x = b.Conv(x, config.Widths[s], 3, name: "conv1");
            x = b.Conv(x, config.Widths[s], 3, name: "conv2");
            if (s + 1 < config.Widths.Length) x = b.Pool(x, PoolKind.Max, 2, 2, Padding.Valid, "pool");
        }
        x = b.GlobalPool(x);
        return b.Build(b.Dense(x, classes, name: "logits"));
    }

    /// <summary>
    /// The text teacher (the NLP proxy's): a MobileBERT-style encoder in the IR — embeddings of
    /// <c>Widths[0]</c>, <c>Widths[2]</c> bottleneck transformer layers of hidden width <c>Widths[0]</c> and bottleneck
    /// <c>Widths[1]</c> (4 heads, 2 feed-forward networks of 2 × hidden), mean pooling and a dense classifier: wider
    /// and deeper than any candidate's proxy, so its soft targets carry what the students' budget cannot learn alone.
    /// </summary>
    public static Network TextArchitecture(TeacherConfig config, int sequenceLength, int vocabulary, int classes)
    {
        if (config.Widths is not [var hidden, var bottleneck, var layers] || hidden < 1 || bottleneck < 4 || bottleneck % 4 != 0 || layers < 1)
            throw new NasCluster.Shared.Util.NasInputException(
                $"the text teacher's widths are [hidden, bottleneck (a multiple of 4), layers] (got [{string.Join(", ", config.Widths)}])");
        var b = new NetworkBuilder("text-teacher");
        var x = NasCluster.Shared.Blocks.Transformer.Embeddings(b, sequenceLength, vocabulary, hidden, hidden, sequenceLength);
        for (var i = 0; i < layers; i++)
            x = NasCluster.Shared.Blocks.Transformer.Block(b, x, new NasCluster.Shared.Blocks.TransformerSpec(hidden, bottleneck, 4, 2, 2 * hidden), $"layer{i}");
        return b.Build(b.Dense(b.GlobalPool(x), classes, name: "logits"));
    }

    /// <summary>The text teacher's recipe by default: hidden 128, bottleneck 64, 2 layers, 1,500 steps of 64 at 0.001.</summary>
    public static TeacherConfig TextDefaults { get; } = new() { Steps = 1500, BatchSize = 64, LearningRate = 0.001, Seed = 7, Widths = [128, 64, 2] };

    /// <summary>The cached text teacher, training it first if no process on this machine has (keyed like the image teacher).</summary>
    public static TeacherArtifacts GetOrTrain(TextCorpus corpus, TeacherConfig config, string? cacheDirectory = null, Action<string>? log = null,
        CancellationToken cancel = default)
    {
        var dir = Path.GetFullPath(cacheDirectory ?? DefaultCacheDirectory);
        var network = TextArchitecture(config, corpus.Recipe.SequenceLength, corpus.Recipe.Vocabulary, corpus.Classes);
        var key = Key(config, network, corpus.Fingerprint);
        var source = new Source(network, corpus.Fingerprint, corpus.Classes, corpus.Train.Count,
            () => (DatasetTensors.Of(corpus.Train), DatasetTensors.Of(corpus.Validation), DatasetTensors.Of(corpus.Test)));
        return Memoized(dir, key, () => LoadOrTrain(source, config, dir, key, log, cancel));
    }

    /// <summary>The cache key: everything that determines the teacher's weights.</summary>
    public static string Key(TeacherConfig config, DatasetSplits data) => Key(config, Architecture(config, data.Channels, data.Classes), data.Fingerprint);

    private static string Key(TeacherConfig config, Network network, string fingerprint)
    {
        var text = $"v{FormatVersion}|{network.Hash}|{fingerprint}|{config.Steps}|{config.BatchSize}|{config.LearningRate:R}|{config.Seed}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24];
    }

    /// <summary>The cached teacher, training it first if no process on this machine has.</summary>
    public static TeacherArtifacts GetOrTrain(DatasetSplits data, TeacherConfig? config = null, string? cacheDirectory = null,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        config ??= new TeacherConfig();
        var dir = Path.GetFullPath(cacheDirectory ?? DefaultCacheDirectory);
        var key = Key(config, data);
        return Memoized(dir, key, () => LoadOrTrain(data, config, dir, key, log, cancel));
    }

    /// <summary>One load or training per cache entry and process; a failed one is forgotten so the next caller tries again.</summary>
    private static TeacherArtifacts Memoized(string dir, string key, Func<TeacherArtifacts> loadOrTrain)
    {
        var lazy = InProcess.GetOrAdd($"{dir}|{key}", _ => new Lazy<TeacherArtifacts>(loadOrTrain));
        try
        {
            return lazy.Value;
        }
        catch
        {
            InProcess.TryRemove($"{dir}|{key}", out _);
            throw;
        }
    }

    /// <summary>The machine-wide part (lock file, disk cache) without the in-process memo; tests call it from two threads to play two processes.</summary>
    internal static TeacherArtifacts LoadOrTrain(DatasetSplits data, TeacherConfig config, string dir, string key, Action<string>? log, CancellationToken cancel) =>
        LoadOrTrain(new Source(Architecture(config, data.Channels, data.Classes), data.Fingerprint, data.Classes, data.Train.Count,
            () => (DatasetTensors.Of(data.Train), DatasetTensors.Of(data.Validation), DatasetTensors.Of(data.Test))), config, dir, key, log, cancel);

    /// <summary>What a teacher is trained on, whatever the task: its network, the data's identity and its splits as tensors (built only when training).</summary>
    private sealed record Source(Network Network, string Fingerprint, int Classes, int TrainCount, Func<(DatasetTensors Train, DatasetTensors Validation, DatasetTensors Test)> Splits);

    private static TeacherArtifacts LoadOrTrain(Source source, TeacherConfig config, string dir, string key, Action<string>? log, CancellationToken cancel)
    {
        Directory.CreateDirectory(dir);
        var target = Path.Combine(dir, key);
        if (File.Exists(Path.Combine(target, "teacher.json"))) return Load(target, key, source.TrainCount, source.Classes);
        using var @lock = AcquireLock(Path.Combine(dir, key + ".lock"), log, cancel);
        if (File.Exists(Path.Combine(target, "teacher.json"))) return Load(target, key, source.TrainCount, source.Classes); // trained while we waited

        log?.Invoke($"training the teacher once ({config.Steps} steps; cached in {target})");
        var clock = Stopwatch.StartNew();
        var network = source.Network;
        var module = TrainingLoop.Build(network, config.Seed);
        var (train, validation, test) = source.Splits();
        TrainingLoop.Train(module, train, null,
            new TrainingConfig { Steps = config.Steps, BatchSize = config.BatchSize, LearningRate = config.LearningRate, Seed = config.Seed, DistillationWeight = 0 },
            cancel, log is null ? null : new Progress<TrainingProgress>(p => { if (p.Step % 200 == 0) log($"teacher step {p.Step}/{p.Steps} loss {p.Loss:0.000}"); }));
        var (testAccuracy, _) = TrainingLoop.Evaluate(module, test);
        var (validationAccuracy, _) = TrainingLoop.Evaluate(module, validation);
        var logits = TrainingLoop.Logits(module, train);
        var seconds = clock.Elapsed.TotalSeconds;

        var temp = Path.Combine(dir, $"{key}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        module.save(Path.Combine(temp, "weights.bin"));
        File.WriteAllBytes(Path.Combine(temp, "train-logits.bin"), logits.data<float>().ToArray().SelectMany(BitConverter.GetBytes).ToArray());
        File.WriteAllText(Path.Combine(temp, "teacher.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["key"] = key, ["architecture_hash"] = network.Hash, ["params"] = network.Params, ["dataset"] = source.Fingerprint,
            ["steps"] = config.Steps, ["batch_size"] = config.BatchSize, ["learning_rate"] = config.LearningRate, ["seed"] = config.Seed,
            ["test_accuracy"] = testAccuracy, ["validation_accuracy"] = validationAccuracy, ["train_seconds"] = seconds,
            ["created"] = DateTime.UtcNow.ToString("O"), ["host"] = Environment.MachineName, ["pid"] = Environment.ProcessId,
        }, Indented));
        if (Directory.Exists(target)) Directory.Delete(target, true); // a half-written directory from a crash before rename cannot exist, but be safe
        Directory.Move(temp, target);
        log?.Invoke($"teacher trained in {seconds:0.#} s: test accuracy {testAccuracy:P2}");
        return new TeacherArtifacts(key, target, logits, testAccuracy, validationAccuracy, seconds, FromCache: false);
    }

    private static TeacherArtifacts Load(string target, string key, int trainCount, int classes)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(target, "teacher.json")));
        var bytes = File.ReadAllBytes(Path.Combine(target, "train-logits.bin"));
        var expected = (long)trainCount * classes * sizeof(float);
        if (bytes.Length != expected) throw new InvalidDataException($"teacher cache {target} is corrupt: {bytes.Length} bytes of logits, expected {expected}");
        var floats = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
        var logits = torch.tensor(floats, [trainCount, classes]).DetachFromDisposeScope();
        var root = meta.RootElement;
        return new TeacherArtifacts(key, target, logits, root.GetProperty("test_accuracy").GetDouble(), root.GetProperty("validation_accuracy").GetDouble(),
            root.GetProperty("train_seconds").GetDouble(), FromCache: true);
    }

    /// <summary>An exclusive lock file shared by every process on the machine; waits (cancellably) while another holds it.</summary>
    private static FileStream AcquireLock(string path, Action<string>? log, CancellationToken cancel)
    {
        var announced = false;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                // The lock file is never deleted: unlinking it on close would let a waiter holding the old inode and a
                // newcomer creating a new one both "own" the lock.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                if (!announced)
                {
                    log?.Invoke("another trainer is training the teacher; waiting for it");
                    announced = true;
                }
                cancel.WaitHandle.WaitOne(200);
            }
        }
    }
}
