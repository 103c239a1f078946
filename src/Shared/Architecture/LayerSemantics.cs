using System.Collections.Immutable;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// Shape inference and counting for every op, in one place, so the builder, the network validator,
/// the cost models and the trainer all agree on what a layer is.
/// </summary>
public static class LayerSemantics
{
    /// <summary>Infers the output shape and counts of <paramref name="layer"/> given its input shapes.</summary>
    /// <exception cref="InvalidNetworkException">The layer cannot exist with these inputs.</exception>
    public static LayerInfo Analyze(Layer layer, IReadOnlyList<TensorShape> inputs)
    {
        var name = layer.Name;
        void Fail(string reason) => throw new InvalidNetworkException(name, reason);
        void Arity(int min, int max)
        {
            if (inputs.Count < min || inputs.Count > max)
            {
                var want = min == max ? $"{min}" : max == int.MaxValue ? $"at least {min}" : $"{min}–{max}";
                Fail($"{OpNames.Of(layer.Op)} takes {want} input(s), got {inputs.Count}");
            }
        }
        void Positive(int value, string what)
        {
            if (value <= 0) Fail($"{what} must be positive (got {value})");
        }
        void SameShapes()
        {
            for (var i = 1; i < inputs.Count; i++)
                if (inputs[i] != inputs[0])
                    Fail($"inputs must have equal shapes, got {inputs[0]} and {inputs[i]} (input {i})");
        }

        TensorShape output;
        long weights = 0, explicitBias = 0, deviceBias = 0, macs = 0;
        switch (layer.Op)
        {
            case InputOp input:
                Arity(0, 0);
                Positive(input.Shape.Height, "input height");
                Positive(input.Shape.Width, "input width");
                Positive(input.Shape.Channels, "input channels");
                if (input.Kind == InputKind.Tokens && (input.Shape.Height != 1 || input.Shape.Channels != 1))
                    Fail($"a token input must be 1 x L x 1, got {input.Shape}");
                output = input.Shape;
                break;

            case Conv2DOp conv:
            {
                Arity(1, 1);
                var x = inputs[0];
                Positive(conv.Filters, "filters");
                Positive(conv.KernelH, "kernel height");
                Positive(conv.KernelW, "kernel width");
                Positive(conv.Stride, "stride");
                Positive(conv.Dilation, "dilation");
                Positive(conv.Groups, "groups");
                if (x.Channels % conv.Groups != 0)
                    Fail($"input channels {x.Channels} are not divisible by groups {conv.Groups}");
                if (conv.Filters % conv.Groups != 0)
                    Fail($"filters {conv.Filters} are not divisible by groups {conv.Groups}");
                var ho = OutputSize(x.Height, conv.KernelH, conv.Stride, conv.Dilation, conv.Padding);
                var wo = OutputSize(x.Width, conv.KernelW, conv.Stride, conv.Dilation, conv.Padding);
                if (ho < 1 || wo < 1)
                    Fail($"a {conv.KernelH}x{conv.KernelW} kernel (stride {conv.Stride}, dilation {conv.Dilation}, {conv.Padding.ToString().ToLowerInvariant()} padding) does not fit the {x.Height}x{x.Width} input");
                output = new TensorShape(ho, wo, conv.Filters);
                var perOutput = (long)conv.KernelH * conv.KernelW * (x.Channels / conv.Groups);
                weights = perOutput * conv.Filters;
                macs = output.Elements * perOutput;
                explicitBias = conv.Bias ? conv.Filters : 0;
                deviceBias = conv.Bias || conv.BatchNorm ? conv.Filters : 0;
                break;
            }

            case DenseOp dense:
            {
                Arity(1, 1);
                Positive(dense.Units, "units");
                var x = inputs[0];
                output = x with { Channels = dense.Units };
                weights = (long)x.Channels * dense.Units;
                macs = (long)x.Height * x.Width * x.Channels * dense.Units;
                explicitBias = deviceBias = dense.Bias ? dense.Units : 0;
                break;
            }

            case AddOp:
                Arity(2, int.MaxValue);
                SameShapes();
                output = inputs[0];
                break;

            case MultiplyOp:
            {
                Arity(2, int.MaxValue);
                // The widest input is the map; every other is that shape or a 1 x 1 x C gate of it.
                var map = inputs.MaxBy(s => s.Elements);
                for (var i = 0; i < inputs.Count; i++)
                    if (inputs[i] != map && inputs[i] != new TensorShape(1, 1, map.Channels))
                        Fail($"multiply inputs must have equal shapes or be a 1x1x{map.Channels} per-channel scale of {map}, got {inputs[i]} (input {i})");
                output = map;
                break;
            }

            case WeightedAddOp:
                Arity(2, int.MaxValue);
                SameShapes();
                output = inputs[0];
                weights = inputs.Count;
                break;

            case ConcatOp:
            {
                Arity(2, int.MaxValue);
                for (var i = 1; i < inputs.Count; i++)
                    if (inputs[i].Height != inputs[0].Height || inputs[i].Width != inputs[0].Width)
                        Fail($"concat inputs must have equal spatial sizes, got {inputs[0]} and {inputs[i]} (input {i})");
                output = inputs[0] with { Channels = inputs.Sum(s => s.Channels) };
                break;
            }

            case PoolOp pool:
            {
                Arity(1, 1);
                Positive(pool.Kernel, "pool kernel");
                Positive(pool.Stride, "pool stride");
                var x = inputs[0];
                var ho = OutputSize(x.Height, pool.Kernel, pool.Stride, 1, pool.Padding);
                var wo = OutputSize(x.Width, pool.Kernel, pool.Stride, 1, pool.Padding);
                if (ho < 1 || wo < 1)
                    Fail($"a {pool.Kernel}x{pool.Kernel} pool window does not fit the {x.Height}x{x.Width} input");
                output = new TensorShape(ho, wo, x.Channels);
                break;
            }

            case GlobalPoolOp:
                Arity(1, 1);
                output = new TensorShape(1, 1, inputs[0].Channels);
                break;

            case ResizeOp resize:
                Arity(1, 1);
                Positive(resize.Height, "resize height");
                Positive(resize.Width, "resize width");
                output = new TensorShape(resize.Height, resize.Width, inputs[0].Channels);
                break;

            case ActivationOp:
                Arity(1, 1);
                output = inputs[0];
                break;

            case FlattenOp:
                Arity(1, 1);
                if (inputs[0].Elements > int.MaxValue) Fail("tensor too large to flatten");
                output = new TensorShape(1, 1, (int)inputs[0].Elements);
                break;

            case ReshapeOp reshape:
                Arity(1, 1);
                Positive(reshape.Shape.Height, "reshape height");
                Positive(reshape.Shape.Width, "reshape width");
                Positive(reshape.Shape.Channels, "reshape channels");
                if (reshape.Shape.Elements != inputs[0].Elements)
                    Fail($"cannot reshape {inputs[0]} ({inputs[0].Elements} elements) to {reshape.Shape} ({reshape.Shape.Elements} elements)");
                output = reshape.Shape;
                break;

            case MatMulOp mm:
            {
                Arity(2, 2);
                Positive(mm.Heads, "heads");
                var (a, b) = (inputs[0], inputs[1]);
                if (a.Height != 1 || b.Height != 1)
                    Fail($"matmul works on sequences (1 x L x D), got {a} and {b}");
                if (a.Channels % mm.Heads != 0 || b.Channels % mm.Heads != 0)
                    Fail($"channels {a.Channels} and {b.Channels} must be divisible by heads {mm.Heads}");
                if (mm.TransposeB)
                {
                    if (a.Channels != b.Channels)
                        Fail($"A·Bᵀ needs equal feature sizes, got {a.Channels} and {b.Channels}");
                    output = new TensorShape(1, a.Width, mm.Heads * b.Width);
                    macs = (long)a.Width * b.Width * a.Channels;
                }
                else
                {
                    if (a.Channels != mm.Heads * b.Width)
                        Fail($"A·B needs A's features ({a.Channels}) = heads × B's length ({mm.Heads} x {b.Width})");
                    output = new TensorShape(1, a.Width, b.Channels);
                    macs = (long)a.Width * b.Width * b.Channels;
                }
                break;
            }

            case SoftmaxOp softmax:
                Arity(1, 1);
                Positive(softmax.Groups, "softmax groups");
                if (inputs[0].Channels % softmax.Groups != 0)
                    Fail($"channels {inputs[0].Channels} are not divisible by softmax groups {softmax.Groups}");
                output = inputs[0];
                break;

            case LayerNormOp:
                Arity(1, 1);
                output = inputs[0];
                weights = 2L * inputs[0].Channels;
                break;

            case EmbeddingOp emb:
                Arity(1, 1);
                Positive(emb.Vocabulary, "vocabulary");
                Positive(emb.Dim, "embedding dim");
                if (inputs[0].Height != 1 || inputs[0].Channels != 1)
                    Fail($"an embedding reads token ids shaped 1 x L x 1, got {inputs[0]}");
                output = new TensorShape(1, inputs[0].Width, emb.Dim);
                weights = (long)emb.Vocabulary * emb.Dim;
                break;

            case HostOp host:
            {
                Arity(1, int.MaxValue);
                if (!OpNames.IsHostOpType(host.Type)) Fail($"a host op's type is an operator name (letters, digits, underscores), got \"{host.Type}\"");
                if (host.Channels < 0) Fail($"host op channels must be 0 (as the input) or positive (got {host.Channels})");
                // Element-wise with broadcasting: every input spans the widest's spatial size and channels, or is 1 along an axis.
                var widest = new TensorShape(inputs.Max(i => i.Height), inputs.Max(i => i.Width), inputs.Max(i => i.Channels));
                for (var i = 0; i < inputs.Count; i++)
                {
                    var x = inputs[i];
                    if (x.Height is not 1 && x.Height != widest.Height || x.Width is not 1 && x.Width != widest.Width || x.Channels is not 1 && x.Channels != widest.Channels)
                        Fail($"{host.Type} inputs must broadcast to {widest}, got {x} (input {i})");
                }
                output = host.Channels > 0 ? widest with { Channels = host.Channels } : widest;
                break;
            }

            default:
                throw new InvalidNetworkException(name, $"unknown op {layer.Op.GetType().Name}");
        }

        return new LayerInfo(layer, inputs.ToImmutableArray(), output, weights + explicitBias, macs, weights, deviceBias);
    }

    /// <summary>
    /// TensorFlow "same" padding of one axis: the total ⌈in/stride⌉ outputs need, the extra row or column
    /// after (bottom / right) when it is odd. The trainer pads and the ONNX exporter writes exactly this.
    /// </summary>
    public static (int Before, int After) SamePadding(int input, int kernel, int stride, int dilation)
    {
        var outSize = (input + stride - 1) / stride;
        var total = Math.Max(0, (outSize - 1) * stride + (kernel - 1) * dilation + 1 - input);
        return (total / 2, total - total / 2);
    }

    /// <summary>Output length of a windowed op along one axis (TF conventions).</summary>
    public static int OutputSize(int input, int kernel, int stride, int dilation, Padding padding)
    {
        var effective = dilation * (kernel - 1) + 1;
        return padding == Padding.Same
            ? (input + stride - 1) / stride
            : input < effective ? 0 : (input - effective) / stride + 1;
    }
}
