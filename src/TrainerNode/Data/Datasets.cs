using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Data;

/// <summary>Sizes every proxy dataset shares.</summary>
public static class DataLimits
{
    /// <summary>The proxy's input resolution: folder images are resized to it, IDX images padded to it.</summary>
    public const int Resolution = 32;

    /// <summary>The fewest images a folder dataset may have (each split needs some).</summary>
    public const int MinImages = 20;
}

/// <summary>Finding a proxy dataset: the Fashion-MNIST default, a directory of IDX files, or a folder of class folders.</summary>
public static class Datasets
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<DatasetSplits>> Folders = new();

    /// <summary>
    /// The dataset at <paramref name="directory"/> (null: Fashion-MNIST from <c>$NASCLUSTER_FASHION_MNIST</c> or the
    /// Debian package). A folder dataset is decoded once per process while its files stay as they are (names,
    /// sizes and times: a changed file is decoded again).
    /// </summary>
    /// <exception cref="NasInputException">Missing, empty, malformed: one line naming the problem.</exception>
    public static DatasetSplits Load(string? directory)
    {
        var dir = FashionMnist.ResolveDirectory(directory);
        if (directory is not null && !Directory.Exists(dir))
            throw new NasInputException("no such directory (--data names the dataset's directory: one folder of images per class, or Fashion-MNIST's four IDX files)",
                Path.GetFullPath(dir));
        if (directory is not null && Directory.Exists(dir) && !ImageFolder.IsFolderDataset(dir) && !File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")))
            throw new NasInputException("no dataset here: a proxy dataset is one folder of images per class, or the four IDX files of Fashion-MNIST's layout " +
                                        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)", Path.GetFullPath(dir));
        if (!ImageFolder.IsFolderDataset(dir)) return FashionMnist.Load(directory);
        var full = Path.GetFullPath(dir);
        var key = full + "|" + Listing(full);
        var lazy = Folders.GetOrAdd(key, _ => new Lazy<DatasetSplits>(() => ImageFolder.Load(full)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Folders.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>Every file's relative name, size and last write time: what says a folder dataset is still the one decoded.</summary>
    private static string Listing(string dir)
    {
        var text = new System.Text.StringBuilder();
        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(f);
            text.Append(Path.GetRelativePath(dir, f)).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// The dataset an experiment recorded: read where it was found, or where this node keeps its data
    /// (<paramref name="nodeDirectory"/>, the node's <c>--data</c>), and accepted only with the recorded content
    /// hash — a different dataset under the same path is refused, never trained on.
    /// </summary>
    /// <exception cref="NasInputException">Not found with that content.</exception>
    public static DatasetSplits Resolve(NasCluster.Shared.Protocol.ExperimentProtocol.ProxyDataset expected, string? nodeDirectory)
    {
        var tried = new List<string>();
        foreach (var dir in new[] { expected.Source, nodeDirectory }.OfType<string>().Distinct())
        {
            DatasetSplits data;
            try
            {
                data = Load(dir);
            }
            catch (NasInputException e)
            {
                tried.Add($"{dir}: {e.Message}");
                continue;
            }
            if (data.Fingerprint == expected.ContentHash) return data;
            tried.Add($"{dir}: content hash {data.Fingerprint}");
        }
        throw new NasInputException($"the experiment's dataset (content hash {expected.ContentHash}, {expected.Kind}, {expected.Classes} classes) is not here: " +
                                    string.Join("; ", tried));
    }
}
