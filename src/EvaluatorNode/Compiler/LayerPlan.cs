using NasCluster.Shared.Architecture;

namespace NasCluster.EvaluatorNode.Compiler;

/// <summary>How a layer is laid onto the array.</summary>
public enum Mapping
{
    /// <summary>No work on the accelerator (inputs, reshapes).</summary>
    None,

    /// <summary>PEs split output rows (and columns when rows run out); every PE holds the weights; cores split lane passes.</summary>
    SpatialSplit,

    /// <summary>All cores of all PEs split output channels / groups; activations are broadcast to every PE; weights are not replicated.</summary>
    ChannelSplit,

    /// <summary>Element-wise, pooling, resize, norm and softmax work on the SIMD lanes.</summary>
    Vector,

    /// <summary>Not on the accelerator: the host CPU runs it (an op the accelerator cannot run, or one after it).</summary>
    Host,
}

/// <summary>What limits a layer's latency.</summary>
public enum Bound { Compute, ActivationBandwidth, WeightLoad, OffChip, Overhead, HostCpu }

/// <summary>
/// The compiler's decisions for one layer and the counts both latency models and the power model
/// read: the same plan goes to the analytical model and the tile simulator.
/// </summary>
public sealed record LayerPlan
{
    public required LayerInfo Info { get; init; }

    /// <summary>Finer op kind for reports (conv1x1, depthwise, group_conv, add, ...).</summary>
    public required string Kind { get; init; }

    public required Mapping Mapping { get; init; }

    // Conv-like work (conv2d, dense, matmul).
    public long Macs { get; init; }
    public int PesUsed { get; init; }
    public long PixelsPerPe { get; init; }
    public int RowSplit { get; init; } = 1;
    public int ColSplit { get; init; } = 1;
    public int Passes { get; init; }

    /// <summary>Lane passes the busiest core runs (each costs an accumulator drain).</summary>
    public int PassesPerCore { get; init; }

    /// <summary>Work of the busiest core of the busiest PE, in (pixel × lane pass) units; each unit takes <see cref="ReductionCycles"/> × <see cref="Slow"/> cycles.</summary>
    public long UnitsPerCore { get; init; }

    /// <summary>Lane-pass chunks per pixel: groups (or groups × ⌈cout/lanes⌉ when a group is wider than the lanes).</summary>
    public int Chunks { get; init; }
    public int Pack { get; init; } = 1;
    public long ReductionCycles { get; init; }
    public double Slow { get; init; } = 1;
    public bool Depthwise { get; init; }
    public int WeightTiles { get; init; } = 1;
    public int WeightCopies { get; init; } = 1;

    /// <summary>Bytes the weight bus moves into core memories (parameters, or the second operand of a matmul).</summary>
    public long WeightBytes { get; init; }

    /// <summary>Parameter bytes of the layer and whether the compiler placed them in the on-chip cache.</summary>
    public long ParamBytes { get; init; }
    public bool ParamsCached { get; init; } = true;

    /// <summary>Bytes read from off-chip memory every inference (streamed parameters, embedding rows).</summary>
    public long OffChipWeightBytes { get; init; }

    /// <summary>Activation bytes that do not fit on chip and go through off-chip memory.</summary>
    public long SpillBytes { get; init; }

    /// <summary>Input bytes sent over the activation network (channel split).</summary>
    public long ActivationBroadcastBytes { get; init; }

    /// <summary>How many PE memories receive those bytes: every used PE for a broadcast, 1 when each PE gets its own slice.</summary>
    public int ActivationCopies { get; init; } = 1;

    /// <summary>Activations read from PE memory into the lanes (energy).</summary>
    public long ActivationFetches { get; init; }

    // Vector work.
    public long VectorElements { get; init; }
    public long VectorBytes { get; init; }
    public long VectorCycles { get; init; }

    /// <summary>Row tiles per PE that keep a tile's input and output in half the PE memory (double buffering).</summary>
    public int RowTiles { get; init; } = 1;

    public string Name => Info.Layer.Name;
}

/// <summary>A network compiled for one accelerator: per-layer plans and the parameter-cache split.</summary>
public sealed record CompiledNetwork(
    Network Network,
    Hardware.HardwareConfig Hardware,
    IReadOnlyList<LayerPlan> Plans,
    long CachedWeightBytes,
    long StreamedWeightBytes,
    long ActivationReserveBytes);
