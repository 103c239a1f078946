using System.Buffers.Binary;
using Google.Protobuf;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using Onnx;

namespace NasCluster.Shared.Onnx;

/// <summary>
/// Reads an ONNX graph (NCHW, as PyTorch and tf2onnx export it) into the network IR, so that a model from
/// outside is priced, shown and exported through the same path as our own: there is no second cost path.
/// Only shapes matter, weights are never read beyond their dimensions. The importer does what an
/// accelerator compiler does to such a graph: batch norms and ReLU/ReLU6 fold into the producing conv,
/// dense or add; Pad folds into the next conv or pool; Identity, Dropout and reshapes that do not move
/// data vanish. Anything it cannot map is named (node, op, reason) in a <see cref="NasInputException"/>.
/// </summary>
public static class OnnxImporter
{
    // Operators the IR keeps by name only (HostOp): the cost model runs them on the host CPU.
    private static readonly string[] HostUnary =
    [
        "Abs", "Acos", "Asin", "Atan", "Ceil", "Celu", "Cos", "Cosh", "Elu", "Erf", "Exp", "Floor", "Gelu", "LeakyRelu", "Log",
        "Mish", "Neg", "PRelu", "Reciprocal", "Round", "Selu", "Sign", "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh",
        "ThresholdedRelu",
    ];

    private static readonly string[] HostBinary = ["Sub", "Div", "Pow", "Max", "Min"];

    private static readonly string[] HostReductions = ["ArgMax", "ArgMin", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceL2"];

    /// <summary>The ONNX operators read (the service publishes them in its capabilities).</summary>
    public static readonly IReadOnlyList<string> SupportedOps =
    [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Dropout", "Flatten", "Gemm",
        "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "MatMul", "MaxPool", "Mul", "Pad",
        "ReduceMean", "Relu", "Reshape", "Resize", "Sigmoid", "Softmax", "Upsample",
        .. HostUnary, .. HostBinary, .. HostReductions,
    ];


    /// <exception cref="NasInputException">Not readable, not ONNX, or a graph the IR cannot express.</exception>
    public static Network ReadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NasInputException($"cannot read: {e.Message}", path);
        }
        return Read(bytes, Path.GetFileNameWithoutExtension(path), path);
    }

    /// <param name="bytes">A serialized ModelProto.</param>
    /// <param name="name">The network's name (the file name without extension, say).</param>
    /// <param name="file">For messages: where the bytes came from.</param>
    /// <exception cref="NasInputException">Not ONNX, or a graph the IR cannot express.</exception>
    public static Network Read(ReadOnlyMemory<byte> bytes, string name, string? file = null)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new NasInputException($"not an ONNX model (the bytes do not decode as an ONNX ModelProto: {e.Message})", file);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0 || model.Graph.Output.Count == 0)
            throw new NasInputException("not an ONNX model (no graph with nodes and outputs)", file);
        try
        {
            return new GraphReader(model.Graph, name).Read();
        }
        catch (InvalidNetworkException e)
        {
            throw new NasInputException(e.Message, file);
        }
        catch (NasInputException e) when (file is not null && e.File is null)
        {
            throw e.InFile(file);
        }
    }

    /// <summary>A tensor of the graph: computed (an IR tensor with its ONNX rank) or a constant.</summary>
    private abstract record Value;

    /// <param name="Tensor">The IR tensor.</param>
    /// <param name="Rank">ONNX rank: 4 for N,C,H,W maps; 2 for N,F after a flatten; 3 for N,L,D sequences.</param>
    /// <param name="Pads">Spatial padding (top, left, bottom, right) a Pad left for the next conv or pool to absorb.</param>
    private sealed record Computed(Tensor Tensor, int Rank, int[]? Pads = null) : Value;

    private sealed record Constant(TensorProto Tensor) : Value
    {
        public long[] Dims => [.. Tensor.Dims];

        public long[] Integers() => TensorData.Integers(Tensor);

        public float[] Floats() => TensorData.Floats(Tensor);

        public long Elements => Dims.Aggregate(1L, (a, b) => a * b);

        /// <summary>As a small integer tensor for constant folding (shapes, pads, axes: never weights).</summary>
        public SmallTensor Small() => Elements <= ConstantFolding.MaxElements
            ? new SmallTensor(Dims, Integers())
            : throw new NasInputException($"constant '{Tensor.Name}' ({Elements} elements) is too large to fold as a shape computation");
    }

    private sealed class GraphReader(GraphProto graph, string name)
    {
        private readonly NetworkBuilder _b = new(name);
        private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
        private readonly HashSet<string> _graphOutputs = new(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        private readonly HashSet<NodeProto> _absorbed = [];

        public Network Read()
        {
            foreach (var init in graph.Initializer) _values[init.Name] = new Constant(init);
            foreach (var node in graph.Node)
                foreach (var input in node.Input)
                    if (input.Length > 0) (_consumers.TryGetValue(input, out var list) ? list : _consumers[input] = []).Add(node);
            foreach (var input in graph.Input)
                if (!_values.ContainsKey(input.Name)) _values[input.Name] = Input(input);
            // Constants have no inputs: known up front, so folding can look ahead at a Clip's bounds.
            foreach (var node in graph.Node.Where(n => n.OpType == "Constant"))
            {
                Node(node);
                _absorbed.Add(node);
            }
            foreach (var node in graph.Node)
                if (!_absorbed.Contains(node)) Node(node);
            var outputs = graph.Output.Select(o => Act(o.Name, $"graph output '{o.Name}'").Tensor).ToArray();
            return _b.Build(outputs);
        }

        private Computed Input(ValueInfoProto input)
        {
            var dims = input.Type?.TensorType?.Shape?.Dim;
            if (dims is null || dims.Count != 4)
                throw Error($"input '{input.Name}'", $"only image inputs shaped (N, C, H, W) are read, got rank {dims?.Count ?? 0}");
            int Dim(int i, string what) => dims[i].HasDimValue && dims[i].DimValue > 0
                ? checked((int)dims[i].DimValue)
                : throw Error($"input '{input.Name}'", $"the {what} must be a fixed number (got '{dims[i].DimParam}'); export with a fixed input size");
            var c = Dim(1, "channel count");
            var h = Dim(2, "height");
            var w = Dim(3, "width");
            return new Computed(_b.Input(h, w, c, input.Name), 4);
        }

        private void Node(NodeProto n)
        {
            if (n.Domain.Length > 0 && n.Domain != "ai.onnx")
                throw Error(n, $"operator domain '{n.Domain}' is not the standard ONNX one");
            switch (n.OpType)
            {
                case "Constant":
                    var t = n.Attribute.FirstOrDefault(a => a.Name == "value")?.T ?? throw Error(n, "a Constant without a tensor 'value' is not supported");
                    _values[n.Output[0]] = new Constant(t);
                    break;
                case "Identity" or "Dropout":
                    _values[n.Output[0]] = Value(n.Input[0], n);
                    break;
                case "Shape":
                    _values[n.Output[0]] = Folded(ShapeOf(n));
                    break;
                case "Gather" or "Unsqueeze" or "Squeeze" or "ConstantOfShape" or "Slice" or "Transpose" or "Cast" when AllConstant(n):
                    _values[n.Output[0]] = Folded(ConstantFolding.Evaluate(n, [.. n.Input.Select(i => i.Length == 0 ? null : ((Constant)Value(i, n)).Small())]));
                    break;
                case "Concat" or "Reshape" when AllConstant(n):
                    _values[n.Output[0]] = Folded(ConstantFolding.Evaluate(n, [.. n.Input.Select(i => ((Constant)Value(i, n)).Small())]));
                    break;
                case "Conv":
                    Conv(n);
                    break;
                case "BatchNormalization":
                    StandaloneBatchNorm(n);
                    break;
                case "Gemm":
                    Gemm(n);
                    break;
                case "MatMul":
                    MatMul(n);
                    break;
                case "Relu" or "Clip" or "Sigmoid" or "HardSigmoid" or "HardSwish":
                    var x = Act(n.Input[0], n);
                    Emit(n, new ActivationOp(ActivationOf(n)!.Value), x.Rank, x.Tensor);
                    break;
                case "Add":
                    Add(n);
                    break;
                case "Mul":
                    Multiply(n);
                    break;
                case "Concat":
                    Concat(n);
                    break;
                case "MaxPool" or "AveragePool":
                    Pool(n);
                    break;
                case "GlobalAveragePool" or "GlobalMaxPool":
                    var g = Act(n.Input[0], n);
                    Emit(n, new GlobalPoolOp(n.OpType == "GlobalMaxPool" ? PoolKind.Max : PoolKind.Average), 4, Map(g, n).Tensor);
                    break;
                case "ReduceMean":
                    ReduceMean(n);
                    break;
                case "Flatten":
                    Flatten(n);
                    break;
                case "Reshape":
                    Reshape(n);
                    break;
                case "Pad":
                    Pad(n);
                    break;
                case "Resize" or "Upsample":
                    Resize(n);
                    break;
                case var op when HostUnary.Contains(op) || HostBinary.Contains(op):
                    HostElementwise(n);
                    break;
                case var op when HostReductions.Contains(op):
                    HostReduction(n);
                    break;
                case "Softmax":
                    var s = Act(n.Input[0], n);
                    var axis = Int(n, "axis", -1);
                    if (!(axis == 1 || axis == -1 && s.Rank <= 3 || axis == s.Rank - 1 && s.Rank <= 3))
                        throw Error(n, $"softmax over axis {axis} of a rank-{s.Rank} tensor: only the channel (feature) axis is supported");
                    Emit(n, new SoftmaxOp(), s.Rank, s.Tensor);
                    break;
                default:
                    throw Error(n, $"operator {n.OpType} is not supported by the importer (supported: {string.Join(", ", SupportedOps)}); " +
                        "dynamic shape computations (Shape, Gather, ...) disappear when the model is exported with constant folding");
            }
        }

        // ----- shape computations exporters leave in (Shape → Gather → Concat → Reshape, pads as tensors) -----

        private bool AllConstant(NodeProto n) => n.Input.All(i => i.Length == 0 || Value(i, n) is Constant);

        private static Constant Folded(SmallTensor t)
        {
            var proto = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
            proto.Dims.AddRange(t.Dims);
            proto.Int64Data.AddRange(t.Data);
            return new Constant(proto);
        }

        private SmallTensor ShapeOf(NodeProto n)
        {
            var x = Act(n.Input[0], n);
            var t = x.Tensor;
            long[] dims = x.Rank switch { 4 => [1, t.Channels, t.Height, t.Width], 3 => [1, t.Width, t.Channels], _ => [1, t.Channels] };
            return new SmallTensor([dims.Length], dims);
        }

        // ----- convolutions and dense layers -----

        private void Conv(NodeProto n)
        {
            var x = Map(Act(n.Input[0], n), n);
            var w = Const(n.Input[1], n, "weights");
            if (w.Dims.Length != 4) throw Error(n, $"only 2-D convolutions are supported (weights of rank {w.Dims.Length})");
            var filters = checked((int)w.Dims[0]);
            var (kh, kw) = (checked((int)w.Dims[2]), checked((int)w.Dims[3]));
            var groups = Int(n, "group", 1);
            if (x.Tensor.Channels != w.Dims[1] * groups)
                throw Error(n, $"weights expect {w.Dims[1] * groups} input channels ({w.Dims[1]} per group × {groups} groups), the input has {x.Tensor.Channels}");
            var stride = Square(n, "strides", 1);
            var dilation = Square(n, "dilations", 1);
            var padding = Padding(n, x, kh, kw, stride, dilation, ceil: false);
            var bias = n.Input.Count > 2 && n.Input[2].Length > 0;
            var (output, batchNorm) = FoldBatchNorm(n.Output[0]);
            var (activation, final) = FoldActivation(output);
            Emit(n, final, new Conv2DOp(filters, kh, kw, stride, dilation, padding, groups, bias, batchNorm, activation), 4, x.Tensor);
        }

        /// <summary>A batch norm alone (after a concat, say) is a per-channel scale and shift: a 1 × 1 depthwise conv with bias.</summary>
        private void StandaloneBatchNorm(NodeProto n)
        {
            var x = Map(Act(n.Input[0], n), n);
            var c = x.Tensor.Channels;
            var (activation, final) = FoldActivation(n.Output[0]);
            Emit(n, final, new Conv2DOp(c, 1, 1, Groups: c, Bias: true, BatchNorm: false, Activation: activation), 4, x.Tensor);
        }

        private void Gemm(NodeProto n)
        {
            var x = Flat(Act(n.Input[0], n), n);
            if (Int(n, "transA", 0) != 0) throw Error(n, "Gemm with transA = 1 is not supported");
            var b = Const(n.Input[1], n, "weights");
            if (b.Dims.Length != 2) throw Error(n, $"Gemm weights of rank {b.Dims.Length}: expected a matrix");
            var transB = Int(n, "transB", 0) != 0;
            var (inputs, units) = transB ? (b.Dims[1], b.Dims[0]) : (b.Dims[0], b.Dims[1]);
            if (inputs != x.Tensor.Channels) throw Error(n, $"weights expect {inputs} features, the input has {x.Tensor.Channels}");
            var bias = n.Input.Count > 2 && n.Input[2].Length > 0;
            var (activation, final) = FoldActivation(n.Output[0]);
            Emit(n, final, new DenseOp(checked((int)units), bias, activation), x.Rank, x.Tensor);
        }

        private void MatMul(NodeProto n)
        {
            var a = Act(n.Input[0], n);
            if (Value(n.Input[1], n) is not Constant b)
                throw Error(n, "a MatMul of two computed tensors (attention scores) is not supported by the importer; only MatMul by a weight matrix");
            if (b.Dims.Length != 2) throw Error(n, $"MatMul weights of rank {b.Dims.Length}: expected a matrix");
            if (b.Dims[0] != a.Tensor.Channels) throw Error(n, $"weights expect {b.Dims[0]} features, the input has {a.Tensor.Channels}");
            var output = n.Output[0];
            var bias = false;
            // PyTorch writes Linear without Gemm as MatMul + Add(bias).
            if (SoleConsumer(output) is { OpType: "Add" } add && add.Input.Count == 2
                && Value(add.Input[0] == output ? add.Input[1] : add.Input[0], add) is Constant { Elements: var e } && e == b.Dims[1])
            {
                _absorbed.Add(add);
                output = add.Output[0];
                bias = true;
            }
            var (activation, final) = FoldActivation(output);
            Emit(n, final, new DenseOp(checked((int)b.Dims[1]), bias, activation), a.Rank, a.Tensor);
        }

        // ----- element-wise -----

        private void Add(NodeProto n)
        {
            var inputs = n.Input.Select(i => Value(i, n)).ToArray();
            if (inputs.Any(v => v is Constant))
                throw Error(n, "adding a constant is supported only as the bias of a MatMul");
            var xs = inputs.Cast<Computed>().ToArray();
            var (activation, final) = FoldActivation(n.Output[0]);
            Emit(n, final, new AddOp(activation), xs[0].Rank, [.. xs.Select(x => x.Tensor)]);
        }

        private void Multiply(NodeProto n)
        {
            var inputs = n.Input.Select(i => Value(i, n)).ToArray();
            if (inputs.Any(v => v is Constant))
                throw Error(n, "multiplying by a constant is not supported (the IR has no scale op); fold it into the weights when exporting");
            var xs = inputs.Cast<Computed>().ToArray();
            Emit(n, new MultiplyOp(), xs.Max(x => x.Rank), [.. xs.Select(x => x.Tensor)]);
        }

        private void Concat(NodeProto n)
        {
            var xs = n.Input.Select(i => Act(i, n)).ToArray();
            var rank = xs[0].Rank;
            var axis = Int(n, "axis", 1);
            if (axis < 0) axis += rank;
            if (!(rank == 4 && axis == 1 || rank < 4 && axis == rank - 1))
                throw Error(n, $"concat on axis {axis} of rank-{rank} tensors: only the channel (feature) axis is supported");
            Emit(n, new ConcatOp(), rank, [.. xs.Select(x => x.Tensor)]);
        }

        // ----- pooling, padding, resizing -----

        private void Pool(NodeProto n)
        {
            var x = Map(Act(n.Input[0], n), n);
            var kernel = Ints(n, "kernel_shape") ?? throw Error(n, "a pool without kernel_shape");
            if (kernel.Length != 2 || kernel[0] != kernel[1]) throw Error(n, $"only square 2-D pool windows are supported, got [{string.Join(", ", kernel)}]");
            if (Square(n, "dilations", 1) != 1) throw Error(n, "dilated pooling is not supported");
            var k = checked((int)kernel[0]);
            var stride = Square(n, "strides", 1);
            var padding = Padding(n, x, k, k, stride, 1, ceil: Int(n, "ceil_mode", 0) != 0);
            Emit(n, new PoolOp(n.OpType == "MaxPool" ? PoolKind.Max : PoolKind.Average, k, stride, padding), 4, x.Tensor);
        }

        private void ReduceMean(NodeProto n)
        {
            var x = Map(Act(n.Input[0], n), n);
            var axes = (Ints(n, "axes") ?? (n.Input.Count > 1 ? Const(n.Input[1], n, "axes").Integers() : null))?.Select(a => a < 0 ? a + 4 : a).Order().ToArray();
            if (axes is null || !axes.SequenceEqual([2L, 3L]))
                throw Error(n, $"ReduceMean over axes [{string.Join(", ", axes ?? [])}]: only the spatial axes [2, 3] (global average pooling) are supported");
            Emit(n, new GlobalPoolOp(PoolKind.Average), Int(n, "keepdims", 1) != 0 ? 4 : 2, x.Tensor);
        }

        // ----- ops without an accelerator implementation (HostOp) -----

        /// <summary>Element-wise math the IR has no op for: its computed inputs become the host op's, constant operands are part of it.</summary>
        private void HostElementwise(NodeProto n)
        {
            var xs = n.Input.Where(i => i.Length > 0).Select(i => Value(i, n)).OfType<Computed>().ToArray();
            if (xs.Length == 0) throw Error(n, "every input is a constant; export with constant folding");
            if (xs.Any(x => x.Rank != xs[0].Rank)) throw Error(n, $"inputs of ranks {string.Join(", ", xs.Select(x => x.Rank))}: only inputs of one rank are supported");
            Emit(n, new HostOp(n.OpType), xs[0].Rank, [.. xs.Select(x => x.Tensor)]);
        }

        /// <summary>A reduction over the channel (feature) axis, e.g. the ArgMax that ends a segmentation network.</summary>
        private void HostReduction(NodeProto n)
        {
            var x = Act(n.Input[0], n);
            var channelAxis = x.Rank switch { 4 or 2 => 1, _ => x.Rank - 1 };
            long[]? axes = n.OpType is "ArgMax" or "ArgMin" ? [Int(n, "axis", 0)]
                : Ints(n, "axes") ?? (n.Input.Count > 1 && n.Input[1].Length > 0 ? Const(n.Input[1], n, "axes").Integers() : null);
            if (axes is null || axes.Length != 1 || (axes[0] < 0 ? axes[0] + x.Rank : axes[0]) != channelAxis)
                throw Error(n, $"{n.OpType} over axes [{string.Join(", ", axes ?? [])}] of a rank-{x.Rank} tensor: only the channel (feature) axis ({channelAxis}) is supported");
            if (Int(n, "keepdims", 1) == 0 && !_graphOutputs.Contains(n.Output[0]))
                throw Error(n, $"{n.OpType} with keepdims = 0 is supported only as a graph output");
            Emit(n, new HostOp(n.OpType, Channels: 1), x.Rank, x.Tensor);
        }

        private void Pad(NodeProto n)
        {
            var x = Map(Act(n.Input[0], n), n);
            var mode = Str(n, "mode", "constant");
            if (mode != "constant") throw Error(n, $"Pad mode '{mode}' is not supported (only zero padding, which a conv or pool absorbs)");
            var pads = Ints(n, "pads") ?? (n.Input.Count > 1 ? Const(n.Input[1], n, "pads").Integers() : null) ?? throw Error(n, "a Pad without pads");
            if (pads.Length != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
                throw Error(n, $"only spatial padding of an (N, C, H, W) tensor is supported, got pads [{string.Join(", ", pads)}]");
            if (n.Input.Count > 2 && n.Input[2].Length > 0 && Const(n.Input[2], n, "value").Floats().Any(v => v != 0))
                throw Error(n, "only zero padding is supported");
            var next = _consumers.GetValueOrDefault(n.Output[0]) ?? [];
            if (next.Count == 0 || next.Any(c => c.OpType is not ("Conv" or "MaxPool" or "AveragePool")))
                throw Error(n, "a Pad is supported only in front of a Conv or pool, which absorbs it");
            int[] own = [(int)pads[2], (int)pads[3], (int)pads[6], (int)pads[7]];
            var before = x.Pads ?? [0, 0, 0, 0];
            _values[n.Output[0]] = x with { Pads = [.. own.Zip(before, (a, b) => a + b)] };
        }

        private void Resize(NodeProto n)
        {
            var x = Map(Act(n.Input[0], n), n);
            var mode = Str(n, "mode", "nearest");
            var kind = mode switch
            {
                "nearest" => ResizeMode.Nearest,
                "linear" or "bilinear" => ResizeMode.Bilinear,
                _ => throw Error(n, $"Resize mode '{mode}' is not supported (nearest, linear)"),
            };
            int h, w;
            // Resize (opset 11+): X, roi, scales, sizes; opset 10: X, scales; Upsample: X, scales (or a scales attribute).
            var sizes = n.OpType == "Resize" && n.Input.Count > 3 && n.Input[3].Length > 0 ? Const(n.Input[3], n, "sizes").Integers() : null;
            if (sizes is { Length: 4 })
            {
                (h, w) = (checked((int)sizes[2]), checked((int)sizes[3]));
            }
            else
            {
                var scalesName = n.OpType == "Resize" && n.Input.Count > 2 ? n.Input[2] : n.Input.Count > 1 ? n.Input[1] : "";
                var scales = scalesName.Length > 0 ? Const(scalesName, n, "scales").Floats() : Floats(n, "scales");
                if (scales is not { Length: 4 }) throw Error(n, "a Resize needs constant scales or sizes of an (N, C, H, W) tensor");
                if (scales[0] != 1 || scales[1] != 1) throw Error(n, "only spatial resizing is supported");
                (h, w) = ((int)Math.Floor(x.Tensor.Height * scales[2]), (int)Math.Floor(x.Tensor.Width * scales[3]));
            }
            Emit(n, new ResizeOp(kind, h, w), 4, x.Tensor);
        }

        // ----- shapes -----

        private void Flatten(NodeProto n)
        {
            var x = Act(n.Input[0], n);
            var axis = Int(n, "axis", 1);
            if (axis != 1) throw Error(n, $"Flatten from axis {axis}: only axis 1 (keep the batch) is supported");
            Flattened(n, x);
        }

        private void Flattened(NodeProto n, Computed x)
        {
            var t = x.Tensor;
            _values[n.Output[0]] = t.Height == 1 && t.Width == 1 || x.Rank == 2
                ? x with { Rank = 2 }
                : new Computed(_b.Add(new FlattenOp(), LayerName(n), t), 2);
        }

        private void Reshape(NodeProto n)
        {
            var x = Act(n.Input[0], n);
            var t = x.Tensor;
            var target = Const(n.Input[1], n, "shape").Integers();
            long[] current = x.Rank switch
            {
                4 => [1, t.Channels, t.Height, t.Width],
                3 => [1, t.Width, t.Channels],
                _ => [1, t.Channels],
            };
            var total = current.Aggregate(1L, (a, b) => a * b);
            var dims = target.Select((d, i) => d == 0 && i < current.Length ? current[i] : d).ToArray();
            var unknown = Array.IndexOf(dims, -1L);
            if (unknown >= 0) dims[unknown] = total / Math.Max(1, dims.Where((_, i) => i != unknown).Aggregate(1L, (a, b) => a * b));
            if (dims.Aggregate(1L, (a, b) => a * b) != total || dims.Length == 0 || dims[0] != 1)
                throw Error(n, $"reshape of [{string.Join(", ", current)}] to [{string.Join(", ", target)}]: only reshapes that keep a batch of one are supported");
            switch (dims.Length)
            {
                case 2:
                    Flattened(n, x);
                    break;
                case 4 when dims[2] * dims[3] == 1 && t.Height * t.Width == 1:
                    _values[n.Output[0]] = x with { Rank = 4 };
                    break;
                case 4:
                    Emit(n, new ReshapeOp(new TensorShape(checked((int)dims[2]), checked((int)dims[3]), checked((int)dims[1]))), 4, t);
                    break;
                case 3:
                    Emit(n, new ReshapeOp(new TensorShape(1, checked((int)dims[1]), checked((int)dims[2]))), 3, t);
                    break;
                default:
                    throw Error(n, $"reshape to rank {dims.Length} is not supported");
            }
        }

        // ----- folding -----

        /// <summary>The node that alone reads <paramref name="tensor"/> (and it is no graph output), or null.</summary>
        private NodeProto? SoleConsumer(string tensor) =>
            !_graphOutputs.Contains(tensor) && _consumers.TryGetValue(tensor, out var c) && c.Count == 1 ? c[0] : null;

        private (string Output, bool BatchNorm) FoldBatchNorm(string output)
        {
            if (SoleConsumer(output) is { OpType: "BatchNormalization" } bn && bn.Input[0] == output)
            {
                _absorbed.Add(bn);
                return (bn.Output[0], true);
            }
            return (output, false);
        }

        /// <summary>ReLU and ReLU6 fuse into the producing layer, as TFLite and the Edge TPU compiler fuse them; other activations stay layers.</summary>
        private (ActivationKind Activation, string Output) FoldActivation(string output)
        {
            var activation = ActivationKind.None;
            // Exporters write ReLU6 as Relu followed by Clip(0, 6), too: the chain folds into one.
            while (SoleConsumer(output) is { } next && ActivationOf(next, quiet: true) is { } a && a is ActivationKind.Relu or ActivationKind.Relu6)
            {
                _absorbed.Add(next);
                activation = activation == ActivationKind.Relu6 ? activation : a;
                output = next.Output[0];
            }
            return (activation, output);
        }

        private ActivationKind? ActivationOf(NodeProto n, bool quiet = false)
        {
            switch (n.OpType)
            {
                case "Relu":
                    return ActivationKind.Relu;
                case "Sigmoid":
                    return ActivationKind.Sigmoid;
                case "HardSigmoid":
                    return ActivationKind.HardSigmoid;
                case "HardSwish":
                    return ActivationKind.HardSwish;
                case "Clip":
                    var min = Bound(n, 1, float.NegativeInfinity);
                    var max = Bound(n, 2, float.PositiveInfinity);
                    if (Attr(n, "min") is { } amin) min = amin.F;
                    if (Attr(n, "max") is { } amax) max = amax.F;
                    if (min == 0 && max == 6) return ActivationKind.Relu6;
                    if (min == 0 && float.IsPositiveInfinity(max)) return ActivationKind.Relu;
                    return quiet ? null : throw Error(n, $"Clip to [{min}, {max}] is not supported (only [0, 6] as ReLU6 and [0, ∞) as ReLU)");
                default:
                    return null;
            }
        }

        private float Bound(NodeProto n, int input, float none) =>
            n.Input.Count > input && n.Input[input].Length > 0 && _values.GetValueOrDefault(n.Input[input]) is Constant c && c.Floats() is { Length: 1 } f ? f[0]
            : n.Input.Count > input && n.Input[input].Length > 0 ? float.NaN
            : none;

        /// <summary>
        /// The IR pads "same" (⌈in/stride⌉ outputs) or "valid" (no padding). ONNX gives explicit pads: they map
        /// when they produce the output size one of the two produces; otherwise the node is named.
        /// </summary>
        private static Padding Padding(NodeProto n, Computed x, int kh, int kw, int stride, int dilation, bool ceil)
        {
            var autoPad = Str(n, "auto_pad", "NOTSET");
            if (autoPad is "SAME_UPPER" or "SAME_LOWER") return Architecture.Padding.Same;
            var pads = Ints(n, "pads")?.Select(p => (int)p).ToArray() ?? [0, 0, 0, 0];
            if (autoPad == "VALID") pads = [0, 0, 0, 0];
            if (pads.Length != 4) throw Error(n, $"expected 4 pads (top, left, bottom, right), got {pads.Length}");
            if (x.Pads is { } extra) pads = [pads[0] + extra[0], pads[1] + extra[1], pads[2] + extra[2], pads[3] + extra[3]];
            int Out(int input, int k, int before, int after)
            {
                var span = input + before + after - (dilation * (k - 1) + 1);
                return span < 0 ? 0 : (ceil ? (span + stride - 1) / stride : span / stride) + 1;
            }
            var (h, w) = (Out(x.Tensor.Height, kh, pads[0], pads[2]), Out(x.Tensor.Width, kw, pads[1], pads[3]));
            bool Gives(Padding p) =>
                LayerSemantics.OutputSize(x.Tensor.Height, kh, stride, dilation, p) == h && LayerSemantics.OutputSize(x.Tensor.Width, kw, stride, dilation, p) == w;
            if (pads.All(p => p == 0) && Gives(Architecture.Padding.Valid)) return Architecture.Padding.Valid;
            if (Gives(Architecture.Padding.Same)) return Architecture.Padding.Same;
            if (Gives(Architecture.Padding.Valid)) return Architecture.Padding.Valid;
            throw Error(n, $"pads [{string.Join(", ", pads)}] give a {h}x{w} output from {x.Tensor.Height}x{x.Tensor.Width}, which neither 'same' nor 'valid' padding of the IR gives");
        }

        // ----- values -----

        private Value Value(string tensor, NodeProto n) =>
            _values.TryGetValue(tensor, out var v) ? v : throw Error(n, $"input '{tensor}' is not produced by any earlier node, initializer or graph input");

        private Computed Act(string tensor, NodeProto n) => Act(tensor, $"node '{NodeName(n)}' ({n.OpType})");

        private Computed Act(string tensor, string where) =>
            _values.TryGetValue(tensor, out var v)
                ? v as Computed ?? throw new NasInputException($"{where}: '{tensor}' is a constant where a computed tensor is expected")
                : throw new NasInputException($"{where}: tensor '{tensor}' is not produced by any node or graph input");

        private Constant Const(string tensor, NodeProto n, string what) =>
            Value(tensor, n) as Constant ?? throw Error(n, $"the {what} ('{tensor}') must be a constant (an initializer); export with constant folding");

        /// <summary>A map (N, C, H, W) with no pending padding; consumers other than conv and pool call this.</summary>
        private static Computed Map(Computed x, NodeProto n) =>
            x.Rank == 4 ? x : throw Error(n, $"expects an (N, C, H, W) tensor, got rank {x.Rank}");

        private static Computed Flat(Computed x, NodeProto n) =>
            x.Rank == 2 || x.Tensor.Height == 1 && x.Tensor.Width == 1 ? x
            : throw Error(n, $"expects flat features (N, F), got a {x.Tensor.Height}x{x.Tensor.Width}x{x.Tensor.Channels} map; flatten it first");

        private void Emit(NodeProto n, Op op, int rank, params Tensor[] inputs) => Emit(n, n.Output[0], op, rank, inputs);

        private void Emit(NodeProto n, string output, Op op, int rank, params Tensor[] inputs)
        {
            foreach (var i in n.Input)
                if (_values.GetValueOrDefault(i) is Computed { Pads: not null } && op is not (Conv2DOp or PoolOp))
                    throw Error(n, "a Pad is supported only in front of a Conv or pool");
            Tensor t;
            try
            {
                t = _b.Add(op, LayerName(n), inputs);
            }
            catch (InvalidNetworkException e)
            {
                throw Error(n, e.LayerReason);
            }
            _values[output] = new Computed(t, rank);
        }

        private static string NodeName(NodeProto n) => n.Name.Length > 0 ? n.Name : n.Output.FirstOrDefault() ?? n.OpType;

        private static string LayerName(NodeProto n) => NodeName(n).Trim('/').Replace("::", "/", StringComparison.Ordinal) is { Length: > 0 } s ? s : n.OpType;

        private static NasInputException Error(NodeProto n, string reason) => new($"node '{NodeName(n)}' ({n.OpType}): {reason}");

        private static NasInputException Error(string where, string reason) => new($"{where}: {reason}");

        // ----- attributes -----

        private static AttributeProto? Attr(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);

        private static int Int(NodeProto n, string name, int none) => Attr(n, name) is { } a ? checked((int)a.I) : none;

        private static long[]? Ints(NodeProto n, string name) => Attr(n, name) is { } a ? [.. a.Ints] : null;

        private static float[]? Floats(NodeProto n, string name) => Attr(n, name) is { } a && a.Floats.Count > 0 ? [.. a.Floats] : null;

        private static string Str(NodeProto n, string name, string none) => Attr(n, name) is { } a ? a.S.ToStringUtf8() : none;

        private static int Square(NodeProto n, string name, int none)
        {
            var v = Ints(n, name);
            if (v is null || v.Length == 0) return none;
            if (v.Any(x => x != v[0])) throw Error(n, $"{name} [{string.Join(", ", v)}] differ per axis; the IR has one {name.TrimEnd('s')} for both");
            return checked((int)v[0]);
        }
    }
}
