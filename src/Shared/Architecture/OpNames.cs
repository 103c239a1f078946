using System.Globalization;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// Stable names for ops and their attributes. These strings appear in arch.json files, in the canonical
/// form (and therefore in every architecture hash) and in reports: never change one, add a new one.
/// </summary>
public static class OpNames
{
    public static string Of(Op op) => op switch
    {
        InputOp => "input",
        Conv2DOp => "conv2d",
        DenseOp => "dense",
        AddOp => "add",
        WeightedAddOp => "weighted_add",
        MultiplyOp => "multiply",
        ConcatOp => "concat",
        PoolOp => "pool",
        GlobalPoolOp => "global_pool",
        ResizeOp => "resize",
        ActivationOp => "activation",
        FlattenOp => "flatten",
        ReshapeOp => "reshape",
        MatMulOp => "matmul",
        SoftmaxOp => "softmax",
        LayerNormOp => "layer_norm",
        EmbeddingOp => "embedding",
        HostOp => "host_op",
        _ => throw new ArgumentOutOfRangeException(nameof(op), op.GetType().Name, "unknown op"),
    };

    public static readonly IReadOnlyList<string> All =
    [
        "input", "conv2d", "dense", "add", "weighted_add", "multiply", "concat", "pool", "global_pool",
        "resize", "activation", "flatten", "reshape", "matmul", "softmax", "layer_norm", "embedding", "host_op",
    ];

    /// <summary>A finer name for reports and cost models: conv2d is split into its kinds.</summary>
    public static string Describe(Op op, TensorShape input) => op switch
    {
        Conv2DOp c when c.Groups == 1 && c.KernelH == 1 && c.KernelW == 1 => "conv1x1",
        Conv2DOp c when c.Groups == 1 => "conv",
        Conv2DOp c when c.Groups == input.Channels && c.Filters == input.Channels => "depthwise",
        Conv2DOp => "group_conv",
        _ => Of(op),
    };

    public static string Name(ActivationKind a) => a switch
    {
        ActivationKind.None => "none",
        ActivationKind.Relu => "relu",
        ActivationKind.Relu6 => "relu6",
        ActivationKind.Sigmoid => "sigmoid",
        ActivationKind.HardSigmoid => "hard_sigmoid",
        ActivationKind.HardSwish => "hard_swish",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    /// <summary>A host op's type: an ONNX-style operator name (letters, digits, underscores), so signatures stay unambiguous.</summary>
    public static bool IsHostOpType(string type) =>
        type.Length is > 0 and <= 64 && char.IsAsciiLetter(type[0]) && type.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    public static string Name(Padding p) => p == Padding.Same ? "same" : "valid";

    public static string Name(PoolKind p) => p == PoolKind.Average ? "avg" : "max";

    public static string Name(ResizeMode m) => m == ResizeMode.Bilinear ? "bilinear" : "nearest";

    public static string Name(InputKind k) => k == InputKind.Image ? "image" : "tokens";

    public static bool TryActivation(string s, out ActivationKind a) => TryParse(s, ["none", "relu", "relu6", "sigmoid", "hard_sigmoid", "hard_swish"], out a);

    public static bool TryPadding(string s, out Padding p) => TryParse(s, ["same", "valid"], out p);

    public static bool TryPool(string s, out PoolKind p) => TryParse(s, ["avg", "max"], out p);

    public static bool TryResize(string s, out ResizeMode m) => TryParse(s, ["bilinear", "nearest"], out m);

    public static bool TryInputKind(string s, out InputKind k) => TryParse(s, ["image", "tokens"], out k);

    private static bool TryParse<T>(string s, string[] names, out T value) where T : struct, Enum
    {
        var i = Array.IndexOf(names, s);
        value = i >= 0 ? (T)(object)i : default;
        return i >= 0;
    }

    /// <summary>
    /// A deterministic one-line description of an op and all its attributes (names excluded). It is the
    /// op's part of the canonical form and of per-layer cost-cache keys.
    /// </summary>
    public static string Signature(Op op)
    {
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        return op switch
        {
            InputOp x => $"input({I(x.Shape.Height)}x{I(x.Shape.Width)}x{I(x.Shape.Channels)},{Name(x.Kind)})",
            Conv2DOp c => $"conv2d(f={I(c.Filters)},k={I(c.KernelH)}x{I(c.KernelW)},s={I(c.Stride)},d={I(c.Dilation)},p={Name(c.Padding)},g={I(c.Groups)},b={(c.Bias ? 1 : 0)},bn={(c.BatchNorm ? 1 : 0)},a={Name(c.Activation)})",
            DenseOp d => $"dense(u={I(d.Units)},b={(d.Bias ? 1 : 0)},a={Name(d.Activation)})",
            AddOp a => $"add(a={Name(a.Activation)})",
            WeightedAddOp w => $"weighted_add(a={Name(w.Activation)})",
            MultiplyOp => "multiply()",
            ConcatOp => "concat()",
            PoolOp p => $"pool({Name(p.Pool)},k={I(p.Kernel)},s={I(p.Stride)},p={Name(p.Padding)})",
            GlobalPoolOp g => $"global_pool({Name(g.Pool)})",
            ResizeOp r => $"resize({Name(r.Mode)},{I(r.Height)}x{I(r.Width)})",
            ActivationOp a => $"activation({Name(a.Activation)})",
            FlattenOp => "flatten()",
            ReshapeOp r => $"reshape({I(r.Shape.Height)}x{I(r.Shape.Width)}x{I(r.Shape.Channels)})",
            MatMulOp m => $"matmul(h={I(m.Heads)},tb={(m.TransposeB ? 1 : 0)})",
            SoftmaxOp s => $"softmax(g={I(s.Groups)})",
            LayerNormOp => "layer_norm()",
            EmbeddingOp e => $"embedding(v={I(e.Vocabulary)},d={I(e.Dim)})",
            HostOp h => $"host_op(t={h.Type},c={I(h.Channels)})",
            _ => throw new ArgumentOutOfRangeException(nameof(op), op.GetType().Name, "unknown op"),
        };
    }

    /// <summary>Ops whose result does not depend on the order of their inputs (up to a channel permutation for concat).</summary>
    public static bool IsCommutative(Op op) => op is AddOp or WeightedAddOp or MultiplyOp or ConcatOp;
}
