using System.Collections.Immutable;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// One node of the network DAG. The layer's name is also the name of the single tensor it produces;
/// <see cref="Inputs"/> name the tensors it consumes.
/// </summary>
public sealed record Layer(string Name, Op Op, ImmutableArray<string> Inputs)
{
    public Layer(string name, Op op, params string[] inputs) : this(name, op, inputs.ToImmutableArray()) { }

    public bool Equals(Layer? other) =>
        other is not null && Name == other.Name && Op.Equals(other.Op) && Inputs.SequenceEqual(other.Inputs);

    public override int GetHashCode() => HashCode.Combine(Name, Op, Inputs.Length);
}

/// <summary>
/// What shape inference and counting derived for one layer: its output shape, the shapes it reads,
/// and the counts cost models and reports use.
/// </summary>
public sealed record LayerInfo(
    Layer Layer,
    ImmutableArray<TensorShape> InputShapes,
    TensorShape OutputShape,
    long Params,
    long Macs,
    long WeightCount,
    long BiasCount)
{
    /// <summary>Bytes of the output activation at int8 (one byte per element).</summary>
    public long OutputBytes => OutputShape.Elements;

    /// <summary>Bytes of all input activations at int8.</summary>
    public long InputBytes => InputShapes.Sum(s => s.Elements);

    /// <summary>
    /// Parameter storage on an int8 accelerator: 8-bit weights plus 32-bit biases (including the
    /// per-channel bias that batch norm folds into).
    /// </summary>
    public long WeightBytesInt8 => WeightCount + 4 * BiasCount;

    /// <summary>Parameter storage at float32.</summary>
    public long WeightBytesFloat => 4 * (WeightCount + BiasCount);
}
