using System.Collections.Immutable;

namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>How a compiler splits a network between the accelerator and the host CPU.</summary>
public enum Partitioning
{
    /// <summary>Every maximal run of ops the accelerator can run is one accelerator segment (a TFLite delegate's partitioning).</summary>
    Segments,

    /// <summary>
    /// The Coral Edge TPU compiler's rule: it "cannot partition the model more than once", so the first op it cannot
    /// run and every op after it run on the CPU, even ops it could run.
    /// </summary>
    FirstUnsupported,
}

/// <summary>
/// A parameterised Edge TPU-class accelerator (edgetpu.md §1, §6.1): a PeX × PeY array of processing
/// elements, each with several cores sharing a PE memory (activations), each core with private core
/// memory (weights, weight-stationary) and SIMD lanes of multiply-accumulators; an on-chip parameter
/// cache; an off-chip interface. Every cost model reads the same description, so the latency, the
/// energy and the mapping all come from one set of numbers.
/// </summary>
public sealed record HardwareConfig
{
    public required string Name { get; init; }

    /// <summary>Bumped whenever a number changes, so recorded results say which version priced them.</summary>
    public required int Version { get; init; }

    public string Description { get; init; } = "";

    public required double ClockHz { get; init; }
    public required int PeX { get; init; }
    public required int PeY { get; init; }
    public required int CoresPerPe { get; init; }

    /// <summary>SIMD width of a core: one output channel per lane.</summary>
    public required int LanesPerCore { get; init; }

    /// <summary>Input channels one lane reduces per cycle.</summary>
    public required int MacWaysPerLane { get; init; }

    /// <summary>
    /// Distinct activations a core's lanes receive per cycle on the broadcast path. A full conv needs one per
    /// MAC way (every lane reuses it); a narrow group, or a narrow conv's other pixels, needs its own, so this
    /// figure sets how much data reuse a layer must offer to fill the lanes (the group-conv knee).
    /// </summary>
    public required double ActBroadcastPerCoreCycle { get; init; }

    /// <summary>Distinct activations per core per cycle for depthwise convs (a dedicated vector path, if the part has one).</summary>
    public required double DepthwiseVectorPerCoreCycle { get; init; }

    public required long CoreMemBytes { get; init; }
    public required long PeMemBytes { get; init; }

    /// <summary>On-chip SRAM the compiler can use for parameters and activations together.</summary>
    public required long ParamCacheBytes { get; init; }

    /// <summary>Largest share of the on-chip SRAM the compiler reserves for activations before caching parameters.</summary>
    public double MaxActivationShare { get; init; } = 0.5;

    public required double OffChipBytesPerSecond { get; init; }
    public required int WeightBroadcastBytesPerCycle { get; init; }

    /// <summary>Bytes per cycle a PE memory delivers to its cores (vector ops, activation loads).</summary>
    public required int PeMemBytesPerCycle { get; init; }

    /// <summary>Bytes per cycle of the network that broadcasts activations to all PEs (channel-split mapping).</summary>
    public required int ActivationBroadcastBytesPerCycle { get; init; }

    public required int LayerOverheadCycles { get; init; }
    public required int PassOverheadCycles { get; init; }

    public required double TechnologyNm { get; init; }
    public required EnergyTable Energy { get; init; }

    /// <summary>The host side: invocation overhead, the link input and output cross, the CPU that runs fallback ops.</summary>
    public required HostInterface Host { get; init; }

    /// <summary>
    /// IR ops (<see cref="Shared.Architecture.OpNames"/>) the accelerator cannot run: the compiler hands them to the
    /// host CPU, as <see cref="Partitioning"/> says. Host ops (ops the IR knows only by name) always run there.
    /// </summary>
    public ImmutableSortedSet<string> CpuOps { get; init; } = ImmutableSortedSet<string>.Empty;

    /// <summary>How the compiler splits a graph around the ops it cannot run.</summary>
    public Partitioning Partitioning { get; init; } = Partitioning.Segments;

    /// <summary>The chip's power budget; no preset may exceed it at full utilisation.</summary>
    public required double PowerBudgetW { get; init; }

    /// <summary>device latency = <see cref="CalibrationSlope"/> · simulated + <see cref="CalibrationInterceptMs"/> (1, 0 when uncalibrated).</summary>
    public double CalibrationSlope { get; init; } = 1.0;

    public double CalibrationInterceptMs { get; init; }

    /// <summary>What the calibration was fitted to (empty when uncalibrated).</summary>
    public string CalibrationSource { get; init; } = "";

    /// <summary>Where each number comes from (field → source), shown by <c>nascluster hardware show</c>.</summary>
    public ImmutableDictionary<string, string> Sources { get; init; } = ImmutableDictionary<string, string>.Empty;

    public int Pes => PeX * PeY;

    public int Cores => Pes * CoresPerPe;

    /// <summary>Multiply-accumulates per cycle at full utilisation.</summary>
    public long PeakMacsPerCycle => (long)Pes * CoresPerPe * LanesPerCore * MacWaysPerLane;

    public double PeakTops => 2.0 * PeakMacsPerCycle * ClockHz / 1e12;

    public double OffChipBytesPerCycle => OffChipBytesPerSecond / ClockHz;

    /// <summary>Stable identity of the numbers (name@version); part of every cost-cache key.</summary>
    public string Id => $"{Name}@{Version}";

    public double CyclesToMs(double cycles) => cycles / ClockHz * 1e3;
}
