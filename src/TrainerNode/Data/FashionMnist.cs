using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Compression;
using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Data;

/// <summary>
/// One split of a dataset as raw bytes: N images of Channels × Height × Width pixels (planar per image) and N
/// labels, with the per-channel mean and standard deviation the images are normalised with (of the training
/// split; Fashion-MNIST's published 0.2860 / 0.3530 for IDX data).
/// </summary>
public sealed record ImageSet(byte[] Pixels, byte[] Labels, int Count, int Height, int Width)
{
    public int Channels { get; init; } = 1;

    public float[] Mean { get; init; } = [0.2860f];

    public float[] Std { get; init; } = [0.3530f];

    public int PixelsPerImage => Height * Width * Channels;
}

/// <summary>
/// The splits the proxy uses: train (for students and the teacher), validation (the proxy score), test (teacher
/// quality); where they came from and the content hash of what is trained on (the teacher cache's key and the
/// identity an experiment records).
/// </summary>
public sealed record DatasetSplits(ImageSet Train, ImageSet Validation, ImageSet Test, string Directory, string Fingerprint)
{
    /// <summary>"idx" (Fashion-MNIST-style IDX files) or "folder" (one folder of images per class).</summary>
    public string Kind { get; init; } = "idx";

    public int Classes { get; init; } = FashionMnist.Classes;

    public int Channels => Train.Channels;

    /// <summary>Class names in label order (folder datasets: the folder names).</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];

    /// <summary>What an experiment records of the dataset.</summary>
    public NasCluster.Shared.Protocol.ExperimentProtocol.ProxyDataset Describe() =>
        new(Kind, Directory, Fingerprint, Classes, Channels, Train.Count, Validation.Count, ClassNames.Count > 0 ? ClassNames : null);
}

/// <summary>
/// Fashion-MNIST from the gzipped IDX files of the Debian package <c>dataset-fashion-mnist</c>
/// (<c>/usr/share/datasets/fashion-mnist</c>), or any dataset in the same four IDX files (MNIST, a user's
/// own: grey images of at most 32×32, labels 0…C−1). The training images are split once, with a fixed
/// seed, into training and 5,000 for validation — the held-out split every proxy score is measured on —
/// so scores are comparable across trials, processes and machines. The test images judge the teacher only.
/// </summary>
public static class FashionMnist
{
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    public const string EnvironmentVariable = "NASCLUSTER_FASHION_MNIST";
    public const int ValidationSize = 5000;
    public const ulong SplitSeed = 20220429;
    public const int Classes = 10;

    private static readonly ConcurrentDictionary<string, Lazy<DatasetSplits>> Loaded = new();

    /// <summary>The directory to read: the argument, else the environment variable, else the Debian package's.</summary>
    public static string ResolveDirectory(string? directory) =>
        directory ?? Environment.GetEnvironmentVariable(EnvironmentVariable) ?? DefaultDirectory;

    /// <summary>Loads (once per process and directory) and splits the dataset.</summary>
    /// <exception cref="NasInputException">Files missing or malformed; the message names the package to install.</exception>
    public static DatasetSplits Load(string? directory = null)
    {
        var dir = Path.GetFullPath(ResolveDirectory(directory));
        var lazy = Loaded.GetOrAdd(dir, d => new Lazy<DatasetSplits>(() => LoadFrom(d)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Loaded.TryRemove(dir, out _);
            throw;
        }
    }

    private static DatasetSplits LoadFrom(string dir)
    {
        string[] files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
        var missing = files.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
        if (missing.Count > 0)
            throw new NasInputException(
                $"Fashion-MNIST not found ({string.Join(", ", missing)} missing): install the Debian package dataset-fashion-mnist " +
                $"(apt-get install dataset-fashion-mnist) or point --data / {EnvironmentVariable} at a directory holding the four .gz IDX files", dir);

        var (trainPixels, h, w) = ReadImages(Path.Combine(dir, files[0]));
        var trainLabels = ReadLabels(Path.Combine(dir, files[1]));
        var (testPixels, th, tw) = ReadImages(Path.Combine(dir, files[2]));
        var testLabels = ReadLabels(Path.Combine(dir, files[3]));
        if (trainPixels.Length / (h * w) != trainLabels.Length || testPixels.Length / (th * tw) != testLabels.Length || (h, w) != (th, tw))
            throw new NasInputException("image and label files do not match (counts or sizes differ)", dir);

        var n = trainLabels.Length;
        if (n <= ValidationSize) throw new NasInputException($"only {n} training images; need more than {ValidationSize}", dir);
        if (h > DataLimits.Resolution || w > DataLimits.Resolution)
            throw new NasInputException($"IDX images of {h}x{w}: at most {DataLimits.Resolution}x{DataLimits.Resolution} (larger images: an image folder, which is resized)", dir);
        var classes = Math.Max(trainLabels.Max(), testLabels.Max()) + 1;
        if (classes < 2) throw new NasInputException("the labels name a single class; a classifier needs at least 2", dir);
        var order = Enumerable.Range(0, n).ToArray();
        var rng = new DeterministicRng(SplitSeed);
        for (var i = n - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var validation = Subset(trainPixels, trainLabels, order[..ValidationSize], h, w);
        var train = Subset(trainPixels, trainLabels, order[ValidationSize..], h, w);
        var test = new ImageSet(testPixels, testLabels, testLabels.Length, h, w);
        var fingerprint = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            [.. trainLabels, .. testLabels, .. BitConverter.GetBytes(trainPixels.Length), .. BitConverter.GetBytes(SplitSeed)]))[..16];
        return new DatasetSplits(train, validation, test, dir, fingerprint) { Classes = classes };
    }

    private static ImageSet Subset(byte[] pixels, byte[] labels, int[] indices, int h, int w)
    {
        var size = h * w;
        var p = new byte[indices.Length * size];
        var l = new byte[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            Buffer.BlockCopy(pixels, indices[i] * size, p, i * size, size);
            l[i] = labels[indices[i]];
        }
        return new ImageSet(p, l, indices.Length, h, w);
    }

    internal static (byte[] Pixels, int Height, int Width) ReadImages(string path)
    {
        var data = ReadGzip(path);
        if (data.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(data) != 0x803)
            throw new NasInputException("not an IDX image file (magic 0x00000803 expected)", path);
        var n = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
        var h = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(8));
        var w = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(12));
        if (n <= 0 || h <= 0 || w <= 0 || data.Length != 16 + (long)n * h * w)
            throw new NasInputException($"IDX header says {n} images of {h}x{w} but the file holds {data.Length - 16} bytes of pixels", path);
        return (data[16..], h, w);
    }

    internal static byte[] ReadLabels(string path)
    {
        var data = ReadGzip(path);
        if (data.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(data) != 0x801)
            throw new NasInputException("not an IDX label file (magic 0x00000801 expected)", path);
        var n = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
        if (n <= 0 || data.Length != 8 + n) throw new NasInputException($"IDX header says {n} labels but the file holds {data.Length - 8}", path);
        var labels = data[8..];
        return labels;
    }

    private static byte[] ReadGzip(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var buffer = new MemoryStream();
            gz.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new NasInputException($"not a gzip file: {e.Message}", path);
        }
    }
}
