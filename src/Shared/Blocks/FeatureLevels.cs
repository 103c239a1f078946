using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Blocks;

/// <summary>
/// Backbone feature maps by pyramid level: level L has stride 2^L relative to the input (level 3 is
/// 1/8 resolution). Heads read the levels they need; builders record the last tensor of each level.
/// </summary>
public sealed class FeatureLevels
{
    private readonly SortedDictionary<int, Tensor> _levels = [];

    /// <summary>Records <paramref name="t"/> as the current feature of its level (later tensors of a level replace earlier ones).</summary>
    public void Record(Tensor t, int inputHeight)
    {
        var level = (int)Math.Round(Math.Log2((double)inputHeight / t.Height));
        _levels[level] = t;
    }

    public int MaxLevel => _levels.Keys.Max();

    public bool Has(int level) => _levels.ContainsKey(level);

    public Tensor this[int level] => _levels.TryGetValue(level, out var t)
        ? t
        : throw new InvalidNetworkException($"level{level}", $"the backbone has no feature map at level {level} (stride {1 << level})");
}
