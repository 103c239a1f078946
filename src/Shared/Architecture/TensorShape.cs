namespace NasCluster.Shared.Architecture;

/// <summary>
/// Shape of one activation tensor without the batch dimension, channels last.
/// Sequences (NLP) use 1 × L × D: one row of L positions with D features each, which is also how an
/// Edge TPU maps token-wise matrix multiplies onto its convolution datapath.
/// </summary>
public readonly record struct TensorShape(int Height, int Width, int Channels)
{
    public long Elements => (long)Height * Width * Channels;

    public override string ToString() => $"{Height}x{Width}x{Channels}";
}
