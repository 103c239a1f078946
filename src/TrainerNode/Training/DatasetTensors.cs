using NasCluster.TrainerNode.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace NasCluster.TrainerNode.Training;

/// <summary>
/// A split as tensors: images padded from 28×28 to 32×32 (the proxy input), normalised with
/// Fashion-MNIST's mean 0.2860 and std 0.3530, labels as int64. Built once per process and split and
/// shared read-only by every training that runs in it.
/// </summary>
public sealed class DatasetTensors
{
    public const float Mean = 0.2860f;
    public const float Std = 0.3530f;
    public const int Size = 32;

    private static readonly Dictionary<ImageSet, DatasetTensors> Built = new(ReferenceEqualityComparer.Instance);

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
            var pad = (Size - set.Height) / 2;
            var floats = new float[set.Count * Size * Size];
            Array.Fill(floats, -Mean / Std);
            for (var i = 0; i < set.Count; i++)
                for (var r = 0; r < set.Height; r++)
                    for (var c = 0; c < set.Width; c++)
                        floats[i * Size * Size + (r + pad) * Size + c + pad] = (set.Pixels[i * set.PixelsPerImage + r * set.Width + c] / 255f - Mean) / Std;
            var images = torch.tensor(floats, [set.Count, 1, Size, Size]).DetachFromDisposeScope();
            var labels = torch.tensor(set.Labels.Select(l => (long)l).ToArray(), [set.Count]).DetachFromDisposeScope();
            t = new DatasetTensors(images, labels);
            Built[set] = t;
            return t;
        }
    }
}
