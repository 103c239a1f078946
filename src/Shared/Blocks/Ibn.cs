using NasCluster.Shared.Architecture;

namespace NasCluster.Shared.Blocks;

/// <summary>The inverted-bottleneck variants the paper searches over.</summary>
public enum IbnKind
{
    /// <summary>1×1 expand, k×k depthwise, 1×1 project (MobileNetV2).</summary>
    Depthwise,

    /// <summary>k×k full conv doing the expansion, 1×1 project (EfficientNet-EdgeTPU "fused").</summary>
    Fused,

    /// <summary>k×k group conv doing the whole expansion, 1×1 project (GC-IBN, TF "ibn_fused_grouped").</summary>
    GroupConv,

    /// <summary>1×1 expand by e1, k×k group conv expanding by e2, 1×1 project; e = e1·e2.</summary>
    GeneralizedGroupConv,
}

/// <summary>
/// One IBN block. <see cref="GroupSize"/> is the <em>minimum input channels per group</em> of the group
/// conv (NasCluster's convention; the TF Model Garden counts output filters per group): the block uses
/// the most groups that divide the channels while keeping at least that many channels per group, so any
/// channel count gives a valid layer and a group size at or above the input width is a full conv.
/// <see cref="Groups"/>, when set, fixes the group count instead (for zoo models defined the TF way);
/// <see cref="ExpandedFilters"/> fixes the expanded width (EfficientNet computes it from the declared,
/// not the actual, input width of a stage's first block).
/// </summary>
public sealed record IbnSpec(
    IbnKind Kind,
    int Filters,
    int Kernel = 3,
    int Stride = 1,
    int Expansion = 4,
    int GroupSize = 32,
    int ExpansionPointwise = 1,
    int? Groups = null,
    bool Skip = true,
    ActivationKind Activation = ActivationKind.Relu,
    int? ExpandedFilters = null)
{
    /// <summary>Short stable name of a kind, as used in search spaces and reports.</summary>
    public static string Name(IbnKind kind) => kind switch
    {
        IbnKind.Depthwise => "dw",
        IbnKind.Fused => "fused",
        IbnKind.GroupConv => "gc",
        IbnKind.GeneralizedGroupConv => "ggc",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static bool TryParse(string name, out IbnKind kind)
    {
        foreach (var k in Enum.GetValues<IbnKind>())
            if (Name(k) == name)
            {
                kind = k;
                return true;
            }
        kind = default;
        return false;
    }
}

/// <summary>Emits IBN blocks as IR layers (ReLU, no squeeze-excite, no swish: Edge TPU friendly).</summary>
public static class Ibn
{
    /// <summary>
    /// Builds one block on <paramref name="x"/>. A residual add is inserted when the stride is 1, the
    /// channel counts match and <see cref="IbnSpec.Skip"/> is on. With expansion 1 the depthwise variant
    /// keeps only its depthwise and projection convs, and the fused variant only its projection (as the
    /// MobileNetEdgeTPU definitions do).
    /// </summary>
    public static Tensor Build(NetworkBuilder b, Tensor x, IbnSpec spec, string name)
    {
        if (spec.Expansion < 1) throw new InvalidNetworkException(name, $"expansion must be at least 1 (got {spec.Expansion})");
        if (spec.Filters < 1) throw new InvalidNetworkException(name, $"filters must be positive (got {spec.Filters})");
        if (spec.Kernel < 1 || spec.Stride < 1) throw new InvalidNetworkException(name, "kernel and stride must be positive");
        var act = spec.Activation;
        var cin = x.Channels;
        var expanded = spec.ExpandedFilters ?? cin * spec.Expansion;
        using var _ = b.Scope(name);
        Tensor h;
        switch (spec.Kind)
        {
            case IbnKind.Depthwise:
                h = spec.Expansion == 1 ? x : b.Conv(x, expanded, 1, activation: act, name: "expand");
                h = b.Depthwise(h, spec.Kernel, spec.Stride, act);
                break;
            case IbnKind.Fused:
                h = spec.Expansion == 1 ? x : b.Conv(x, expanded, spec.Kernel, spec.Stride, activation: act, name: "fused");
                if (spec.Expansion == 1 && spec.Stride > 1)
                    return Project(b, x, spec, stride: spec.Stride);
                break;
            case IbnKind.GroupConv:
                h = b.Conv(x, expanded, spec.Kernel, spec.Stride, GroupCount(cin, expanded, spec), act, "group");
                break;
            case IbnKind.GeneralizedGroupConv:
            {
                if (spec.ExpansionPointwise < 1 || spec.Expansion % spec.ExpansionPointwise != 0)
                    throw new InvalidNetworkException(name,
                        $"the pointwise expansion e1={spec.ExpansionPointwise} must divide the total expansion e={spec.Expansion}");
                var mid = cin * spec.ExpansionPointwise;
                h = spec.ExpansionPointwise == 1 ? x : b.Conv(x, mid, 1, activation: act, name: "expand");
                h = b.Conv(h, expanded, spec.Kernel, spec.Stride, GroupCount(mid, expanded, spec), act, "group");
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "unknown IBN kind");
        }
        return Project(b, h, spec, stride: 1, residual: x);
    }

    private static Tensor Project(NetworkBuilder b, Tensor h, IbnSpec spec, int stride, Tensor? residual = null)
    {
        var y = b.Conv(h, spec.Filters, 1, stride, activation: ActivationKind.None, name: "project");
        var input = residual ?? h;
        if (spec.Skip && spec.Stride == 1 && input.Channels == spec.Filters && input.Shape == y.Shape)
            y = b.Sum(ActivationKind.None, "add", y, input);
        return y;
    }

    /// <summary>
    /// Number of groups for a group conv from <paramref name="cin"/> to <paramref name="cout"/> channels:
    /// the explicit count if given, else the most groups dividing both with at least
    /// <see cref="IbnSpec.GroupSize"/> input channels each.
    /// </summary>
    public static int GroupCount(int cin, int cout, IbnSpec spec)
    {
        if (spec.Groups is { } fixedGroups) return fixedGroups;
        return GroupsForSize(cin, cout, spec.GroupSize);
    }

    /// <summary>The most groups dividing <paramref name="cin"/> and <paramref name="cout"/> with ≥ <paramref name="groupSize"/> input channels per group (1 = full conv).</summary>
    public static int GroupsForSize(int cin, int cout, int groupSize)
    {
        groupSize = Math.Max(1, groupSize);
        for (var g = cin / groupSize; g > 1; g--)
            if (cin % g == 0 && cout % g == 0)
                return g;
        return 1;
    }
}
