using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Blocks;

/// <summary>Optional 1×1 "top" conv, global average pool, then class logits.</summary>
public static class ClassificationHead
{
    public static Tensor Build(NetworkBuilder b, Tensor x, int classes, int? topFilters,
        ActivationKind activation = ActivationKind.Relu)
    {
        using var _ = b.Scope("head");
        if (topFilters is { } top) x = b.Conv(x, top, 1, activation: activation, name: "top");
        x = b.GlobalPool(x, name: "pool");
        return b.Dense(x, classes, name: "logits");
    }
}
