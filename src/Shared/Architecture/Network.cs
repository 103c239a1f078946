using System.Collections.Immutable;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// A neural network as a DAG of layers with named tensors: the one representation that is costed,
/// trained and exported, so all three see the same network. Construction validates the graph and runs
/// shape inference; an instance is therefore always a network that can exist.
/// </summary>
public sealed class Network
{
    private readonly Dictionary<string, int> _index;
    private string? _canonical;
    private string? _hash;

    /// <exception cref="InvalidNetworkException">The graph or a layer is invalid; the message names the layer.</exception>
    public Network(string name, IEnumerable<Layer> layers, IEnumerable<string> outputs)
    {
        Name = name;
        Layers = layers.ToImmutableArray();
        Outputs = outputs.ToImmutableArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);

        if (Layers.IsEmpty) throw new InvalidNetworkException("(none)", "a network needs at least one layer");
        var infos = ImmutableArray.CreateBuilder<LayerInfo>(Layers.Length);
        var used = new bool[Layers.Length];
        for (var i = 0; i < Layers.Length; i++)
        {
            var layer = Layers[i];
            if (string.IsNullOrWhiteSpace(layer.Name))
                throw new InvalidNetworkException($"#{i}", "layer name must not be empty");
            if (!_index.TryAdd(layer.Name, i))
                throw new InvalidNetworkException(layer.Name, "duplicate layer name");
            var shapes = new TensorShape[layer.Inputs.Length];
            for (var j = 0; j < layer.Inputs.Length; j++)
            {
                if (!_index.TryGetValue(layer.Inputs[j], out var k) || k == i)
                    throw new InvalidNetworkException(layer.Name,
                        $"input '{layer.Inputs[j]}' is not defined before this layer (layers are listed in execution order)");
                shapes[j] = infos[k].OutputShape;
                used[k] = true;
            }
            infos.Add(LayerSemantics.Analyze(layer, shapes));
        }
        Infos = infos.MoveToImmutable();

        if (Outputs.IsEmpty) throw new InvalidNetworkException(Layers[^1].Name, "a network needs at least one output");
        foreach (var output in Outputs)
        {
            if (!_index.TryGetValue(output, out var k))
                throw new InvalidNetworkException(output, "listed as an output but no such layer exists");
            used[k] = true;
        }
        if (Outputs.Distinct(StringComparer.Ordinal).Count() != Outputs.Length)
            throw new InvalidNetworkException(Outputs.GroupBy(o => o).First(g => g.Count() > 1).Key, "listed twice as an output");
        for (var i = 0; i < Layers.Length; i++)
            if (!used[i])
                throw new InvalidNetworkException(Layers[i].Name, "its output is never used and it is not a network output");
        if (!Layers.Any(l => l.Op is InputOp))
            throw new InvalidNetworkException(Layers[0].Name, "a network needs an input layer");

        Params = Infos.Sum(x => x.Params);
        Macs = Infos.Sum(x => x.Macs);
        WeightBytesInt8 = Infos.Sum(x => x.WeightBytesInt8);
        WeightBytesFloat = Infos.Sum(x => x.WeightBytesFloat);
        ActivationBytes = Infos.Sum(x => x.OutputBytes);
        PeakLayerActivationBytes = Infos.Max(x => x.InputBytes + x.OutputBytes);
    }

    public Network(string name, IEnumerable<Layer> layers, params string[] outputs)
        : this(name, layers, (IEnumerable<string>)outputs) { }

    /// <summary>A label for people; not part of the architecture (the hash ignores it).</summary>
    public string Name { get; }

    /// <summary>Layers in execution order (every input is defined before it is used).</summary>
    public ImmutableArray<Layer> Layers { get; }

    /// <summary>Names of the network's output tensors, in order.</summary>
    public ImmutableArray<string> Outputs { get; }

    /// <summary>Shapes and counts per layer, parallel to <see cref="Layers"/>.</summary>
    public ImmutableArray<LayerInfo> Infos { get; }

    /// <summary>Trainable parameters: conv/dense weights, explicit biases, norm scales, embeddings. Batch norm folded into conv biases at inference is not counted, as in the published figures.</summary>
    public long Params { get; }

    /// <summary>Multiply-accumulates of one inference.</summary>
    public long Macs { get; }

    /// <summary>Parameter storage with int8 weights and int32 biases (what an Edge TPU holds).</summary>
    public long WeightBytesInt8 { get; }

    /// <summary>Parameter storage at float32.</summary>
    public long WeightBytesFloat { get; }

    /// <summary>Sum of every layer's output activation at int8.</summary>
    public long ActivationBytes { get; }

    /// <summary>Largest input + output activation footprint of a single layer at int8.</summary>
    public long PeakLayerActivationBytes { get; }

    public int IndexOf(string layerName) => _index.TryGetValue(layerName, out var i) ? i : -1;

    public LayerInfo Info(string layerName) =>
        _index.TryGetValue(layerName, out var i) ? Infos[i] : throw new KeyNotFoundException($"no layer named '{layerName}'");

    public TensorShape ShapeOf(string tensor) => Info(tensor).OutputShape;

    /// <summary>Naming- and emission-order-independent text form of the architecture (see <see cref="CanonicalForm"/>).</summary>
    public string Canonical => _canonical ??= CanonicalForm.Of(this);

    /// <summary>SHA-256 of <see cref="Canonical"/>, lower-case hex: equal hashes mean the same network.</summary>
    public string Hash => _hash ??= CanonicalForm.HashOf(Canonical);

    /// <summary>The same network under another label.</summary>
    public Network Rename(string name) => new(name, Layers, Outputs);

    public override string ToString() => $"{Name} ({Layers.Length} layers, {Params:N0} params, {Macs:N0} MACs)";
}
