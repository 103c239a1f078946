using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Padding = NasCluster.Shared.Architecture.Padding;
using Tensor = TorchSharp.torch.Tensor;

namespace NasCluster.TrainerNode.Torch;

/// <summary>
/// A TorchSharp module that executes an IR network, layer by layer, so the network that is trained is
/// exactly the network that is costed. Tensors are NCHW; "same" padding follows TensorFlow (extra row /
/// column at the bottom / right when the padding is odd), so every shape equals the IR's. Convs with
/// batch norm get a BatchNorm2d (folded away at inference, hence not in the IR's parameter count).
/// Sequences (the IR's 1 × L × C) are [N, C, 1, L]; a text network is fed its token ids [N, L] (int64) and makes
/// its position ids (0…L−1) and segment ids (0) itself.
/// </summary>
public sealed class IrModule : nn.Module<Tensor, Tensor>
{
    private readonly Func<Tensor[], Tensor>[] _steps;
    private readonly int[][] _inputs;
    private readonly int _output;

    /// <exception cref="NasInputException">An op the trainer cannot build.</exception>
    public IrModule(Network network) : base(network.Name.Replace('/', '_').Replace('.', '_'))
    {
        if (network.Outputs.Length != 1) throw new NasInputException($"'{network.Name}' has {network.Outputs.Length} outputs; the trainer builds single-output networks");
        var n = network.Layers.Length;
        _steps = new Func<Tensor[], Tensor>[n];
        _inputs = new int[n][];
        for (var i = 0; i < n; i++)
        {
            var info = network.Infos[i];
            _inputs[i] = info.Layer.Inputs.Select(network.IndexOf).ToArray();
            _steps[i] = Build(i, info);
        }
        _output = network.IndexOf(network.Outputs[0]);
    }

    /// <summary>Trainable parameters of conv, dense and fusion layers: what the IR counts.</summary>
    public long IrParameterCount => named_parameters().Where(p => !p.name.Contains("_bn")).Sum(p => p.parameter.numel());

    /// <summary>Batch-norm scale and shift parameters (folded into biases at inference).</summary>
    public long BatchNormParameterCount => named_parameters().Where(p => p.name.Contains("_bn")).Sum(p => p.parameter.numel());

    public override Tensor forward(Tensor input)
    {
        var values = new Tensor[_steps.Length];
        for (var i = 0; i < _steps.Length; i++)
        {
            var args = _inputs[i].Length == 0 ? [input] : _inputs[i].Select(j => values[j]).ToArray();
            values[i] = _steps[i](args);
        }
        return values[_output];
    }

    private Func<Tensor[], Tensor> Build(int i, LayerInfo info)
    {
        var x = info.InputShapes.Length > 0 ? info.InputShapes[0] : default;
        switch (info.Layer.Op)
        {
            case InputOp { Kind: InputKind.Tokens } when info.Layer.Name.EndsWith("position_ids", StringComparison.Ordinal):
                // Text networks are fed one tensor, the token ids [N, L]; positions count from 0 and every token is in segment 0.
                return a => torch.arange(a[0].shape[1], dtype: ScalarType.Int64).expand(a[0].shape[0], -1);
            case InputOp { Kind: InputKind.Tokens } when info.Layer.Name.EndsWith("segment_ids", StringComparison.Ordinal):
                return a => torch.zeros_like(a[0]);
            case InputOp:
                return a => a[0];
            case EmbeddingOp e:
            {
                var table = nn.Embedding(e.Vocabulary, e.Dim);
                register_module($"l{i}_embedding", table);
                return a => table.forward(a[0]).permute(0, 2, 1).unsqueeze(2); // [N, L] ids → [N, D, 1, L]
            }
            case LayerNormOp:
            {
                var norm = nn.LayerNorm(x.Channels);
                register_module($"l{i}_norm", norm);
                return a => norm.forward(a[0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
            }
            case SoftmaxOp sm:
                return a => a[0].view(a[0].shape[0], sm.Groups, -1, a[0].shape[2], a[0].shape[3]).softmax(2).view(a[0].shape);
            case MatMulOp mm:
                return a => MatMul(a[0], a[1], mm.Heads, mm.TransposeB);
            case Conv2DOp c:
            {
                var conv = nn.Conv2d(x.Channels, c.Filters, (c.KernelH, c.KernelW), stride: (c.Stride, c.Stride),
                    padding: (0, 0), dilation: (c.Dilation, c.Dilation), groups: c.Groups, bias: c.Bias);
                register_module($"l{i}_conv", conv);
                BatchNorm2d? bn = null;
                if (c.BatchNorm)
                {
                    bn = nn.BatchNorm2d(c.Filters);
                    register_module($"l{i}_bn", bn);
                }
                var pads = c.Padding == Padding.Same
                    ? SamePadding(x.Height, x.Width, c.KernelH, c.KernelW, c.Stride, c.Dilation)
                    : null;
                var act = c.Activation;
                return a =>
                {
                    var t = pads is null ? a[0] : F.pad(a[0], pads);
                    t = conv.forward(t);
                    if (bn is not null) t = bn.forward(t);
                    return Activate(t, act);
                };
            }
            case DenseOp d:
            {
                var linear = nn.Linear(x.Channels, d.Units, hasBias: d.Bias);
                register_module($"l{i}_dense", linear);
                var act = d.Activation;
                var pointwise = x.Height == 1 && x.Width == 1;
                return a => Activate(pointwise
                    ? linear.forward(a[0].flatten(1)).view(-1, d.Units, 1, 1)
                    : linear.forward(a[0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2), act);
            }
            case AddOp add:
                return a => Activate(a.Skip(1).Aggregate(a[0], (s, t) => s + t), add.Activation);
            case WeightedAddOp wa:
            {
                var w = new Parameter(torch.ones(info.InputShapes.Length));
                register_parameter($"l{i}_fusion", w);
                return a =>
                {
                    var weights = F.relu(w);
                    var sum = a[0] * weights[0];
                    for (var k = 1; k < a.Length; k++) sum = sum + a[k] * weights[k];
                    return Activate(sum / (weights.sum() + 1e-4), wa.Activation);
                };
            }
            case MultiplyOp:
                return a => a.Skip(1).Aggregate(a[0], (s, t) => s * t);
            case ConcatOp:
                return a => torch.cat(a, 1);
            case ReshapeOp r:
            {
                // The IR's reshape is over NHWC order (as TensorFlow and the compiler see it): permute to it, reshape, permute back.
                var shape = r.Shape;
                return a => a[0].permute(0, 2, 3, 1).reshape(a[0].shape[0], shape.Height, shape.Width, shape.Channels).permute(0, 3, 1, 2);
            }
            case ResizeOp r:
            {
                // Nearest: floor of the asymmetric source coordinate; bilinear: half-pixel centres (align_corners
                // false) — the ONNX exporter's coordinate_transformation_mode for each, so exports compute the same.
                long[] size = [r.Height, r.Width];
                return r.Mode == ResizeMode.Nearest
                    ? a => F.interpolate(a[0], size, mode: InterpolationMode.Nearest)
                    : a => F.interpolate(a[0], size, mode: InterpolationMode.Bilinear, align_corners: false);
            }
            case PoolOp p:
            {
                var pads = p.Padding == Padding.Same ? SamePadding(x.Height, x.Width, p.Kernel, p.Kernel, p.Stride, 1) : null;
                if (p.Pool == PoolKind.Max)
                    return a => F.max_pool2d(pads is null ? a[0] : F.pad(a[0], pads, value: double.NegativeInfinity), p.Kernel, p.Stride);
                // TF excludes padding from the average: divide by the number of real pixels under the window.
                Tensor? counts = null;
                return a =>
                {
                    if (pads is null) return F.avg_pool2d(a[0], p.Kernel, p.Stride);
                    var sums = F.avg_pool2d(F.pad(a[0], pads), p.Kernel, p.Stride) * (p.Kernel * p.Kernel);
                    counts ??= F.avg_pool2d(F.pad(torch.ones(1, 1, x.Height, x.Width), pads), p.Kernel, p.Stride).mul(p.Kernel * p.Kernel).DetachFromDisposeScope();
                    return sums / counts;
                };
            }
            case GlobalPoolOp g:
                return g.Pool == PoolKind.Average ? a => a[0].mean([2, 3], keepdim: true) : a => a[0].amax([2, 3], keepdim: true);
            case ActivationOp act:
                return a => Activate(a[0], act.Activation);
            case FlattenOp:
                return a => a[0].permute(0, 2, 3, 1).reshape(a[0].shape[0], -1, 1, 1);
            default:
                throw new NasInputException($"the trainer cannot build layer '{info.Layer.Name}' ({OpNames.Of(info.Layer.Op)})");
        }
    }

    /// <summary>
    /// The IR's multi-head matmul on sequences held as [N, C, 1, L]: heads are contiguous channel slices. With
    /// <paramref name="transposeB"/>, A[M, h·k]·B[N, h·k]ᵀ gives [M, h·N] (head j's scores in channels j·N…); without,
    /// A[M, h·N]·B[N, h·k] gives [M, h·k].
    /// </summary>
    internal static Tensor MatMul(Tensor a, Tensor b, int heads, bool transposeB)
    {
        var batch = a.shape[0];
        var (m, n) = (a.shape[3], b.shape[3]);
        var left = a.squeeze(2).transpose(1, 2).reshape(batch, m, heads, -1).permute(0, 2, 1, 3); // [N, h, M, ·]
        var right = b.squeeze(2).transpose(1, 2).reshape(batch, n, heads, -1).permute(0, 2, 1, 3); // [N, h, N, k]
        var product = transposeB ? left.matmul(right.transpose(-1, -2)) : left.matmul(right); // [N, h, M, ·]
        return product.permute(0, 2, 1, 3).reshape(batch, m, -1).transpose(1, 2).unsqueeze(2);
    }

    private static Tensor Activate(Tensor t, ActivationKind a) => a switch
    {
        ActivationKind.Relu => F.relu(t),
        ActivationKind.Relu6 => F.relu6(t),
        ActivationKind.Sigmoid => F.sigmoid(t),
        ActivationKind.HardSigmoid => F.hardsigmoid(t),
        ActivationKind.HardSwish => F.hardswish(t),
        _ => t,
    };

    /// <summary>TensorFlow "same" padding as (left, right, top, bottom), or null when none is needed.</summary>
    internal static long[]? SamePadding(int h, int w, int kh, int kw, int stride, int dilation)
    {
        var (top, bottom) = LayerSemantics.SamePadding(h, kh, stride, dilation);
        var (left, right) = LayerSemantics.SamePadding(w, kw, stride, dilation);
        return top + bottom + left + right == 0 ? null : [left, right, top, bottom];
    }
}
