namespace NasCluster.Shared.Architecture;

/// <summary>A tensor while a network is being built: the producing layer's name and its inferred shape.</summary>
public readonly record struct Tensor(string Name, TensorShape Shape)
{
    public int Height => Shape.Height;
    public int Width => Shape.Width;
    public int Channels => Shape.Channels;
}

/// <summary>
/// Emits layers with shape inference as it goes, so blocks can read their input's channels and an
/// impossible layer fails where it is created, naming it. Names are hierarchical
/// (<c>stage2/block0/expand</c>) via <see cref="Scope"/>; they are labels only and never affect the hash.
/// </summary>
public sealed class NetworkBuilder
{
    private readonly List<Layer> _layers = [];
    private readonly Dictionary<string, LayerInfo> _infos = new(StringComparer.Ordinal);
    private readonly Stack<string> _scopes = new();
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    public NetworkBuilder(string name) => Name = name;

    public string Name { get; }

    /// <summary>Prefixes the names of layers emitted until the returned handle is disposed.</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(_scopes.Count == 0 ? name : _scopes.Peek() + "/" + name);
        return new PopOnDispose(_scopes);
    }

    public Tensor Add(Op op, string? name, params Tensor[] inputs)
    {
        var full = UniqueName(name ?? OpNames.Of(op));
        var layer = new Layer(full, op, inputs.Select(t => t.Name).ToArray());
        var info = LayerSemantics.Analyze(layer, inputs.Select(t => t.Shape).ToArray());
        _layers.Add(layer);
        _infos[full] = info;
        return new Tensor(full, info.OutputShape);
    }

    public Tensor Input(int height, int width, int channels, string name = "input") =>
        Add(new InputOp(new TensorShape(height, width, channels)), name);

    public Tensor TokenInput(int length, string name = "tokens") =>
        Add(new InputOp(new TensorShape(1, length, 1), InputKind.Tokens), name);

    /// <summary>Conv + (folded) batch norm + activation: the standard unit of mobile vision networks.</summary>
    public Tensor Conv(Tensor x, int filters, int kernel, int stride = 1, int groups = 1,
        ActivationKind activation = ActivationKind.Relu, string? name = null, bool batchNorm = true,
        bool bias = false, Padding padding = Padding.Same, int dilation = 1, int? kernelW = null) =>
        Add(new Conv2DOp(filters, kernel, kernelW ?? kernel, stride, dilation, padding, groups, bias, batchNorm, activation),
            name ?? "conv", x);

    public Tensor Depthwise(Tensor x, int kernel, int stride = 1, ActivationKind activation = ActivationKind.Relu,
        string? name = null, int dilation = 1) =>
        Conv(x, x.Channels, kernel, stride, x.Channels, activation, name ?? "depthwise", dilation: dilation);

    public Tensor Dense(Tensor x, int units, ActivationKind activation = ActivationKind.None, string? name = null, bool bias = true) =>
        Add(new DenseOp(units, bias, activation), name ?? "dense", x);

    public Tensor Sum(ActivationKind activation, string? name, params Tensor[] xs) => Add(new AddOp(activation), name ?? "add", xs);

    public Tensor Sum(params Tensor[] xs) => Sum(ActivationKind.None, null, xs);

    public Tensor WeightedSum(ActivationKind activation, string? name, params Tensor[] xs) =>
        Add(new WeightedAddOp(activation), name ?? "fuse", xs);

    public Tensor Multiply(string? name, params Tensor[] xs) => Add(new MultiplyOp(), name ?? "multiply", xs);

    public Tensor Concat(string? name, params Tensor[] xs) => Add(new ConcatOp(), name ?? "concat", xs);

    public Tensor Pool(Tensor x, PoolKind kind, int kernel, int stride, Padding padding = Padding.Same, string? name = null) =>
        Add(new PoolOp(kind, kernel, stride, padding), name ?? (kind == PoolKind.Max ? "maxpool" : "avgpool"), x);

    public Tensor GlobalPool(Tensor x, PoolKind kind = PoolKind.Average, string? name = null) =>
        Add(new GlobalPoolOp(kind), name ?? "global_pool", x);

    public Tensor Resize(Tensor x, int height, int width, ResizeMode mode = ResizeMode.Bilinear, string? name = null) =>
        Add(new ResizeOp(mode, height, width), name ?? "resize", x);

    public Tensor Activation(Tensor x, ActivationKind kind, string? name = null) =>
        Add(new ActivationOp(kind), name ?? OpNames.Name(kind), x);

    public Tensor Flatten(Tensor x, string? name = null) => Add(new FlattenOp(), name ?? "flatten", x);

    public Tensor Reshape(Tensor x, TensorShape shape, string? name = null) => Add(new ReshapeOp(shape), name ?? "reshape", x);

    public Tensor MatMul(Tensor a, Tensor b, int heads, bool transposeB, string? name = null) =>
        Add(new MatMulOp(heads, transposeB), name ?? "matmul", a, b);

    public Tensor Softmax(Tensor x, int groups = 1, string? name = null) => Add(new SoftmaxOp(groups), name ?? "softmax", x);

    public Tensor LayerNorm(Tensor x, string? name = null) => Add(new LayerNormOp(), name ?? "norm", x);

    public Tensor Embedding(Tensor tokens, int vocabulary, int dim, string? name = null) =>
        Add(new EmbeddingOp(vocabulary, dim), name ?? "embedding", tokens);

    public LayerInfo Info(Tensor t) => _infos[t.Name];

    /// <summary>Finishes the network; layers that do not lead to an output are dropped.</summary>
    public Network Build(params Tensor[] outputs)
    {
        var live = new HashSet<string>(outputs.Select(o => o.Name), StringComparer.Ordinal);
        for (var i = _layers.Count - 1; i >= 0; i--)
            if (live.Contains(_layers[i].Name))
                foreach (var input in _layers[i].Inputs) live.Add(input);
        return new Network(Name, _layers.Where(l => live.Contains(l.Name)), outputs.Select(o => o.Name));
    }

    private string UniqueName(string name)
    {
        var full = _scopes.Count == 0 ? name : _scopes.Peek() + "/" + name;
        if (!_infos.ContainsKey(full)) return full;
        var n = _counters.GetValueOrDefault(full, 1);
        string candidate;
        do candidate = $"{full}_{n++}"; while (_infos.ContainsKey(candidate));
        _counters[full] = n;
        return candidate;
    }

    private sealed class PopOnDispose(Stack<string> scopes) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            scopes.Pop();
        }
    }
}
