using NasCluster.TrainerNode.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace NasCluster.TrainerNode.Training;

/// <summary>
/// A split as tensors: images of C × 32 × 32 (the proxy input; smaller IDX images such as Fashion-MNIST's
/// 28×28 padded, centred), normalised per channel with the split's mean and std (Fashion-MNIST's 0.2860 and
/// 0.3530 for IDX data), labels as int64. Built once per process and split and shared read-only by every
/// training that runs in it.
/// </summary>
public sealed class DatasetTensors
{
    public const int Size = Data.DataLimits.Resolution;

    private static readonly Dictionary<object, DatasetTensors> Built = new(ReferenceEqualityComparer.Instance);

    private DatasetTensors(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    public Tensor Images { get; }

    public Tensor Labels { get; }

    public long Count => Labels.shape[0];

    public static DatasetTensors Of(ImageSet set)
    {
        lock (Built)
        {
            if (Built.TryGetValue(set, out var t)) return t;
            var (padTop, padLeft) = ((Size - set.Height) / 2, (Size - set.Width) / 2);
            var channels = set.Channels;
            var plane = Size * Size;
            var floats = new float[set.Count * channels * plane];
            for (var i = 0; i < set.Count; i++)
                for (var ch = 0; ch < channels; ch++)
                {
                    var (mean, std) = (set.Mean[ch], set.Std[ch]);
                    var target = (i * channels + ch) * plane;
                    floats.AsSpan(target, plane).Fill(-mean / std);
                    var source = i * set.PixelsPerImage + ch * set.Height * set.Width;
                    for (var r = 0; r < set.Height; r++)
                        for (var c = 0; c < set.Width; c++)
                            floats[target + (r + padTop) * Size + c + padLeft] = (set.Pixels[source + r * set.Width + c] / 255f - mean) / std;
                }
            var images = torch.tensor(floats, [set.Count, channels, Size, Size]).DetachFromDisposeScope();
            var labels = torch.tensor(set.Labels.Select(l => (long)l).ToArray(), [set.Count]).DetachFromDisposeScope();
            t = new DatasetTensors(images, labels);
            Built[set] = t;
            return t;
        }
    }

    /// <summary>Text as tensors: token ids [N, L] (int64, the "images" a text network reads) and labels [N].</summary>
    public static DatasetTensors Of(TextSet set)
    {
        lock (Built)
        {
            if (Built.TryGetValue(set, out var t)) return t;
            var tokens = torch.tensor(set.Tokens, [set.Count, set.Length]).DetachFromDisposeScope();
            var labels = torch.tensor(set.Labels.Select(l => (long)l).ToArray(), [set.Count]).DetachFromDisposeScope();
            t = new DatasetTensors(tokens, labels);
            Built[set] = t;
            return t;
        }
    }

    /// <summary>Scenes as tensors: images [N, 1, S, S] normalised with the training scenes' mean and std, labels [N, S, S] (bytes: 0 background, 1 + class).</summary>
    public static DatasetTensors Of(SceneSet set)
    {
        lock (Built)
        {
            if (Built.TryGetValue(set, out var t)) return t;
            var floats = new float[set.Pixels.Length];
            for (var i = 0; i < floats.Length; i++) floats[i] = (set.Pixels[i] / 255f - set.Mean) / set.Std;
            var images = torch.tensor(floats, [set.Count, 1, set.Size, set.Size]).DetachFromDisposeScope();
            var labels = torch.tensor(set.Masks, [set.Count, set.Size, set.Size]).DetachFromDisposeScope();
            t = new DatasetTensors(images, labels);
            Built[set] = t;
            return t;
        }
    }
}
