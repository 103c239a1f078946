using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Blocks;

/// <summary>
/// One MobileBERT-style encoder layer: the wide residual stream (<see cref="Hidden"/>) is squeezed
/// through bottlenecks to <see cref="Bottleneck"/> features, multi-head attention runs at the
/// bottleneck width (queries and keys from a shared bottleneck, values from the wide input), followed
/// by <see cref="FfnCount"/> stacked feed-forward networks, then expanded back. Norms are per-position
/// scale-and-shift (MobileBERT's NoNorm), costed as layer norms.
/// </summary>
public sealed record TransformerSpec(int Hidden = 512, int Bottleneck = 128, int Heads = 4, int FfnCount = 4, int FfnSize = 512);

public static class Transformer
{
    public static Tensor Block(NetworkBuilder b, Tensor x, TransformerSpec spec, string name)
    {
        if (spec.Bottleneck % spec.Heads != 0)
            throw new InvalidNetworkException(name, $"bottleneck {spec.Bottleneck} is not divisible by {spec.Heads} heads");
        using var _ = b.Scope(name);
        var inner = b.LayerNorm(b.Dense(x, spec.Bottleneck, name: "bottleneck_in"), "bottleneck_in_norm");
        var shared = b.LayerNorm(b.Dense(x, spec.Bottleneck, name: "bottleneck_qk"), "bottleneck_qk_norm");
        var q = b.Dense(shared, spec.Bottleneck, name: "query");
        var k = b.Dense(shared, spec.Bottleneck, name: "key");
        var v = b.Dense(x, spec.Bottleneck, name: "value");
        var scores = b.MatMul(q, k, spec.Heads, transposeB: true, "scores");
        var probs = b.Softmax(scores, spec.Heads, "attention");
        var context = b.MatMul(probs, v, spec.Heads, transposeB: false, "context");
        var attn = b.Dense(context, spec.Bottleneck, name: "attention_out");
        var h = b.LayerNorm(b.Sum(ActivationKind.None, "attention_add", attn, inner), "attention_norm");
        for (var f = 0; f < spec.FfnCount; f++)
        {
            using var __ = b.Scope($"ffn{f}");
            var t = b.Dense(h, spec.FfnSize, ActivationKind.Relu, "intermediate");
            t = b.Dense(t, spec.Bottleneck, name: "output");
            h = b.LayerNorm(b.Sum(ActivationKind.None, "add", t, h), "norm");
        }
        var output = b.Dense(h, spec.Hidden, name: "bottleneck_out");
        return b.LayerNorm(b.Sum(ActivationKind.None, "output_add", output, x), "output_norm");
    }

    /// <summary>
    /// MobileBERT embeddings: token table at <paramref name="embeddingDim"/>, a 1×3 "trigram" conv up to
    /// the hidden width, plus position and segment tables, summed and normalised.
    /// </summary>
    public static Tensor Embeddings(NetworkBuilder b, int sequenceLength, int vocabulary, int embeddingDim, int hidden,
        int maxPositions = 512, int segments = 2)
    {
        using var _ = b.Scope("embeddings");
        var tokens = b.TokenInput(sequenceLength, "token_ids");
        var positions = b.TokenInput(sequenceLength, "position_ids");
        var segmentIds = b.TokenInput(sequenceLength, "segment_ids");
        var word = b.Embedding(tokens, vocabulary, embeddingDim, "word");
        var trigram = b.Conv(word, hidden, 1, kernelW: 3, activation: ActivationKind.None, name: "trigram",
            batchNorm: false, bias: true);
        var pos = b.Embedding(positions, maxPositions, hidden, "position");
        var seg = b.Embedding(segmentIds, segments, hidden, "segment");
        return b.LayerNorm(b.Sum(ActivationKind.None, "sum", trigram, pos, seg), "norm");
    }
}
