using System.Security.Cryptography;
using NasCluster.Shared.Util;
using StbImageSharp;

namespace NasCluster.TrainerNode.Data;

/// <summary>
/// A user's own dataset as one folder of images per class (the folder names, in ordinal order, are the classes):
/// PNG, JPEG, BMP or GIF files of any size, decoded (StbImageSharp, managed: a crafted file fails to decode, it
/// cannot corrupt memory) and resized to the proxy's 32×32 by area averaging (stretching, no crop). Grey if
/// every image is grey, else RGB. Split once with a fixed seed: a tenth for validation (the proxy score), a tenth
/// for testing (the teacher), the rest for training. The content hash covers the class names and the decoded,
/// resized pixels — exactly what is trained on — so the same images elsewhere hash the same.
/// </summary>
public static class ImageFolder
{
    public const ulong SplitSeed = 20221107;

    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif"];

    /// <summary>Whether <paramref name="dir"/> looks like a folder dataset (it has subfolders and no IDX files).</summary>
    public static bool IsFolderDataset(string dir) =>
        Directory.Exists(dir) && Directory.EnumerateDirectories(dir).Any() && !File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz"));

    /// <exception cref="NasInputException">Empty, a single class, a class without images, an image that does not decode.</exception>
    public static DatasetSplits Load(string dir)
    {
        dir = Path.GetFullPath(dir);
        if (!Directory.Exists(dir)) throw new NasInputException("no such dataset directory", dir);
        var classDirs = Directory.EnumerateDirectories(dir).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (classDirs.Count == 0) throw new NasInputException("no class folders: a dataset is one folder of images per class (or the four IDX files)", dir);
        if (classDirs.Count == 1)
            throw new NasInputException($"a single class ('{Path.GetFileName(classDirs[0])}'): a classifier needs at least 2 class folders", dir);
        if (classDirs.Count > 255) throw new NasInputException($"{classDirs.Count} class folders: at most 255", dir);
        var files = new List<(string Path, byte Label)>();
        for (var c = 0; c < classDirs.Count; c++)
        {
            var images = Directory.EnumerateFiles(classDirs[c]).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            if (images.Count == 0)
                throw new NasInputException($"class '{Path.GetFileName(classDirs[c])}' has no images ({string.Join(", ", Extensions)})", classDirs[c]);
            files.AddRange(images.Select(f => (f, (byte)c)));
        }
        if (files.Count < DataLimits.MinImages) throw new NasInputException($"{files.Count} images: at least {DataLimits.MinImages} are needed for the splits", dir);

        // One image at a time, decoded and resized at once (a large dataset never holds its full-size images in
        // memory), in parallel into each image's own slice; the first bad file in listing order is the one reported.
        const int size = DataLimits.Resolution;
        var plane = size * size;
        var rgb = new byte[files.Count * plane * 3];
        var grey = new bool[files.Count];
        var errors = new NasInputException?[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            try
            {
                var d = Decode(files[i].Path);
                grey[i] = d.Grey;
                Resize(d, rgb.AsSpan(i * plane * 3, plane * 3));
            }
            catch (NasInputException e)
            {
                errors[i] = e;
            }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } first) throw first;
        var channels = grey.All(g => g) ? 1 : 3;
        var pixels = channels == 3 ? rgb : new byte[files.Count * plane];
        if (channels == 1) // a grey image's three planes are equal: keep the first
            for (var i = 0; i < files.Count; i++) Buffer.BlockCopy(rgb, i * plane * 3, pixels, i * plane, plane);
        var labels = files.Select(f => f.Label).ToArray();

        var order = Enumerable.Range(0, files.Count).ToArray();
        var rng = new DeterministicRng(SplitSeed);
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var held = Math.Max(1, files.Count / 10);
        var names = classDirs.Select(Path.GetFileName).ToList();
        ImageSet Subset(int[] indices) => Pick(pixels, labels, indices, size, channels);
        var train = Subset(order[(2 * held)..]);
        var (mean, std) = Statistics(train);
        train = train with { Mean = mean, Std = std };
        var validation = Subset(order[..held]) with { Mean = mean, Std = std };
        var test = Subset(order[held..(2 * held)]) with { Mean = mean, Std = std };

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"folder-v1|{string.Join('/', names)}|{channels}|{SplitSeed}|"));
        hash.AppendData(labels);
        hash.AppendData(pixels);
        var fingerprint = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        return new DatasetSplits(train, validation, test, dir, fingerprint) { Kind = "folder", Classes = names.Count, ClassNames = names! };
    }

    private sealed record Decoded(byte[] Rgb, int Width, int Height, bool Grey);

    private static Decoded Decode(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NasInputException($"cannot read the image: {e.Message}", path);
        }
        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NotSupportedException or OverflowException)
        {
            throw new NasInputException($"not an image this trainer can decode ({e.Message})", path);
        }
        if (image is null || image.Width < 1 || image.Height < 1 || image.Data is null || image.Data.Length < image.Width * image.Height * 3)
            throw new NasInputException("not an image this trainer can decode", path);
        var grey = image.SourceComp is ColorComponents.Grey or ColorComponents.GreyAlpha;
        return new Decoded(image.Data, image.Width, image.Height, grey);
    }

    /// <summary>Area-average resize of an RGB image to 32×32, written planar (channel by channel) into <paramref name="target"/>.</summary>
    private static void Resize(Decoded d, Span<byte> target)
    {
        const int size = DataLimits.Resolution;
        Span<double> sum = stackalloc double[3];
        for (var y = 0; y < size; y++)
        {
            var y0 = y * d.Height / (double)size;
            var y1 = (y + 1) * d.Height / (double)size;
            for (var x = 0; x < size; x++)
            {
                var x0 = x * d.Width / (double)size;
                var x1 = (x + 1) * d.Width / (double)size;
                sum.Clear();
                var weight = 0.0;
                for (var sy = (int)y0; sy < Math.Min(d.Height, (int)Math.Ceiling(y1)); sy++)
                {
                    var wy = Math.Min(y1, sy + 1) - Math.Max(y0, sy);
                    for (var sx = (int)x0; sx < Math.Min(d.Width, (int)Math.Ceiling(x1)); sx++)
                    {
                        var w = wy * (Math.Min(x1, sx + 1) - Math.Max(x0, sx));
                        var p = (sy * d.Width + sx) * 3;
                        for (var c = 0; c < 3; c++) sum[c] += w * d.Rgb[p + c];
                        weight += w;
                    }
                }
                for (var c = 0; c < 3; c++) target[c * size * size + y * size + x] = (byte)Math.Round(sum[c] / weight);
            }
        }
    }

    private static ImageSet Pick(byte[] pixels, byte[] labels, int[] indices, int size, int channels)
    {
        var per = size * size * channels;
        var p = new byte[indices.Length * per];
        var l = new byte[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            Buffer.BlockCopy(pixels, indices[i] * per, p, i * per, per);
            l[i] = labels[indices[i]];
        }
        return new ImageSet(p, l, indices.Length, size, size) { Channels = channels };
    }

    /// <summary>Per-channel mean and standard deviation of a split, in [0, 1] units.</summary>
    private static (float[] Mean, float[] Std) Statistics(ImageSet set)
    {
        var plane = set.Height * set.Width;
        var mean = new float[set.Channels];
        var std = new float[set.Channels];
        for (var c = 0; c < set.Channels; c++)
        {
            double s = 0, s2 = 0;
            for (var i = 0; i < set.Count; i++)
                for (var k = 0; k < plane; k++)
                {
                    var v = set.Pixels[i * set.PixelsPerImage + c * plane + k] / 255.0;
                    s += v;
                    s2 += v * v;
                }
            var n = (double)set.Count * plane;
            mean[c] = (float)(s / n);
            std[c] = (float)Math.Max(1e-3, Math.Sqrt(Math.Max(0, s2 / n - (s / n) * (s / n))));
        }
        return (mean, std);
    }
}
