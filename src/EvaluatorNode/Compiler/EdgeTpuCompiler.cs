using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Compiler;

/// <summary>A layer that no mapping can place on the accelerator.</summary>
public sealed class UnmappableNetworkException(string layer, string hardware, string reason)
    : NasInputException($"layer '{layer}' cannot be mapped on {hardware}: {reason}")
{
    public string LayerName { get; } = layer;
}

/// <summary>
/// The Edge TPU "compiler" of the PPE service: maps every layer onto PEs / cores / SIMD lanes — a
/// spatial split and a channel split, keeping the cheaper per layer — packs small groups side by side
/// in the lanes, allocates the on-chip parameter cache over the whole network (what does not fit streams
/// from off-chip on every inference), detects activation spill, and turns non-conv ops into vector work.
/// </summary>
public static class EdgeTpuCompiler
{
    /// <exception cref="UnmappableNetworkException">A layer's smallest tile does not fit a PE memory.</exception>
    public static CompiledNetwork Compile(Network network, HardwareConfig hw)
    {
        var placement = Place(network, hw);
        var plans = new LayerPlan[network.Infos.Length];
        for (var i = 0; i < plans.Length; i++) plans[i] = Plan(network.Infos[i], hw, placement.Cached[i], placement.ActivationReserveBytes, placement.OnHost[i]);
        return new CompiledNetwork(network, hw, plans, placement.CachedBytes, placement.StreamedBytes, placement.ActivationReserveBytes);
    }

    /// <summary>Where layers run and parameters live: per layer, on the host CPU or not, cached on chip or streamed every inference.</summary>
    public sealed record Placement(bool[] Cached, long CachedBytes, long StreamedBytes, long ActivationReserveBytes, bool[] OnHost);

    /// <summary>
    /// Which layers the host CPU runs (<see cref="HardwareConfig.Partitioning"/>): with segments only the ops
    /// the accelerator cannot run; with the Coral compiler's rule also every layer after the first of them.
    /// Inputs are data, never a layer of either side; a reshape or flatten goes where its input is.
    /// </summary>
    public static bool[] HostLayers(Network network, HardwareConfig hw)
    {
        var infos = network.Infos;
        var onHost = new bool[infos.Length];
        var index = new Dictionary<string, int>(infos.Length, StringComparer.Ordinal);
        var cut = false;
        for (var i = 0; i < infos.Length; i++)
        {
            var layer = infos[i].Layer;
            index[layer.Name] = i;
            if (layer.Op is InputOp) continue;
            var unsupported = RunsOnHost(layer.Op, hw);
            if (layer.Op is ReshapeOp or FlattenOp) onHost[i] = onHost[index[layer.Inputs[0]]] || cut;
            else if (hw.Partitioning == Partitioning.FirstUnsupported) onHost[i] = cut |= unsupported;
            else onHost[i] = unsupported;
        }
        return onHost;
    }

    /// <summary>Whether the accelerator cannot run <paramref name="op"/> (the preset's list, and every host op).</summary>
    public static bool RunsOnHost(Op op, HardwareConfig hw) => op is HostOp || hw.CpuOps.Contains(OpNames.Of(op));

    /// <summary>
    /// Activations first: the compiler reserves the largest single-layer working set (up to a share of
    /// the SRAM); parameters are then cached in what is left, layer by layer in execution order, and a
    /// layer whose parameters do not fit streams them from off-chip on every inference. Layers the host
    /// CPU runs keep their parameters in host memory.
    /// </summary>
    public static Placement Place(Network network, HardwareConfig hw)
    {
        var infos = network.Infos;
        var onHost = HostLayers(network, hw);
        var largest = infos.Where((_, i) => !onHost[i]).Select(i => i.InputBytes + i.OutputBytes).DefaultIfEmpty(0).Max();
        var reserve = Math.Min(largest, (long)(hw.MaxActivationShare * hw.ParamCacheBytes));
        var capacity = hw.ParamCacheBytes - reserve;
        long cached = 0, streamed = 0;
        var isCached = new bool[infos.Length];
        for (var i = 0; i < infos.Length; i++)
        {
            var bytes = onHost[i] ? 0 : CacheableBytes(infos[i]);
            isCached[i] = bytes <= capacity;
            if (bytes == 0) continue;
            if (isCached[i])
            {
                capacity -= bytes;
                cached += bytes;
            }
            else
            {
                streamed += bytes;
            }
        }
        return new Placement(isCached, cached, streamed, reserve, onHost);
    }

    /// <summary>Parameter bytes that live in the parameter cache (embedding tables stay off-chip and are gathered).</summary>
    public static long CacheableBytes(LayerInfo info) => info.Layer.Op is EmbeddingOp ? 0 : info.WeightBytesInt8;

    /// <summary>
    /// Plans one layer given whether its parameters are cached and the activation reserve. Depends only
    /// on (op, input shapes, cached, reserve, hardware), which is what the per-layer cost cache keys on.
    /// </summary>
    public static LayerPlan Plan(LayerInfo info, HardwareConfig hw, bool cached, long activationReserve, bool onHost = false)
    {
        if (onHost)
            return new LayerPlan
            {
                Info = info, Kind = OpNames.Describe(info.Layer.Op, info.InputShapes.Length > 0 ? info.InputShapes[0] : default),
                Mapping = IsFree(info.Layer.Op) ? Mapping.None : Mapping.Host, Macs = info.Macs, ParamBytes = info.WeightBytesInt8, ParamsCached = false,
            };
        var options = MappingOptions(info, hw, cached, activationReserve);
        return options.Count == 1 ? options[0] : options.MinBy(o => LayerCycles.Analytical(o, hw).Total)!;
    }

    /// <summary>
    /// Every mapping the compiler considers for a layer (spatial and channel split for conv-like layers,
    /// the only one for others); <see cref="Plan"/> keeps the cheapest.
    /// </summary>
    public static IReadOnlyList<LayerPlan> MappingOptions(LayerInfo info, HardwareConfig hw, bool cached, long activationReserve)
    {
        var io = info.InputBytes + info.OutputBytes;
        var spill = Math.Max(0, io - activationReserve);
        var kind = OpNames.Describe(info.Layer.Op, info.InputShapes.Length > 0 ? info.InputShapes[0] : default);
        var paramBytes = CacheableBytes(info);
        var offChipParams = cached ? 0 : paramBytes;
        switch (info.Layer.Op)
        {
            case InputOp or ReshapeOp or FlattenOp:
                return [new LayerPlan { Info = info, Kind = kind, Mapping = Mapping.None }];
            case Conv2DOp c:
            {
                var x = info.InputShapes[0];
                var o = info.OutputShape;
                return ConvLike(info, hw, kind, o.Height, o.Width, c.Groups, x.Channels / c.Groups, c.Filters / c.Groups,
                    c.KernelH * c.KernelW, info.WeightBytesInt8, paramBytes, cached, offChipParams, spill,
                    inputRowBytesPerChannel: ((long)(c.KernelH - 1) * c.Dilation + c.Stride) * x.Width,
                    outputRowBytesPerChannel: o.Width,
                    depthwise: c.Groups > 1 && c.Groups == x.Channels && c.Groups == c.Filters);
            }
            case DenseOp d:
            {
                var x = info.InputShapes[0];
                return ConvLike(info, hw, kind, x.Height, x.Width, 1, x.Channels, d.Units, 1, info.WeightBytesInt8, paramBytes,
                    cached, offChipParams, spill, x.Width, x.Width, depthwise: false);
            }
            case MatMulOp m:
            {
                var (a, b) = (info.InputShapes[0], info.InputShapes[1]);
                // Per head: A·Bᵀ reduces over k = Ca/h and produces N = Wb outputs; A·B reduces over N and produces k = Cb/h.
                var (cinG, coutG) = m.TransposeB ? (a.Channels / m.Heads, b.Width) : (b.Width, b.Channels / m.Heads);
                return ConvLike(info, hw, kind, 1, a.Width, m.Heads, cinG, coutG, 1, b.Elements, 0, true, 0, spill,
                    a.Width, a.Width, depthwise: false);
            }
            default:
                return [Vector(info, hw, kind, paramBytes, cached, offChipParams, spill)];
        }
    }

    private static List<LayerPlan> ConvLike(LayerInfo info, HardwareConfig hw, string kind, int ho, int wo, int groups, int cinG, int coutG,
        int kernelArea, long weightBytes, long paramBytes, bool cached, long offChipParams, long spill,
        long inputRowBytesPerChannel, long outputRowBytesPerChannel, bool depthwise)
    {
        // Lane packing: a group at least as wide as the lanes fills ⌈cout/L⌉ passes on its own; narrower
        // groups share a pass, `pack` streams side by side, each stream needing its own activations. In
        // the spatial split the streams may also be other pixels of the same group (a narrow full conv
        // still fills its lanes); the activation broadcast limits how many streams run at full speed.
        var lanes = hw.LanesPerCore;
        var wide = coutG >= lanes;
        var chunks = wide ? checked(groups * CeilDiv(coutG, lanes)) : groups;
        var pack = wide ? 1 : lanes / coutG;
        var passes = CeilDiv(chunks, pack);
        var red = (long)kernelArea * CeilDiv(cinG, hw.MacWaysPerLane);
        var bandwidth = depthwise ? hw.DepthwiseVectorPerCoreCycle : hw.ActBroadcastPerCoreCycle;
        var fetchesPerPixel = (long)kernelArea * cinG * groups * CeilDiv(coutG, lanes * pack);
        var activationFetches = (long)ho * wo * fetchesPerPixel;

        // Spatial split: rows over PEs (then columns when rows run out); within a PE the cores share the
        // (pixel × lane pass) work, splitting passes when there are enough and pixels otherwise.
        var rowSplit = Math.Min(hw.Pes, ho);
        var colSplit = Math.Min(hw.Pes / rowSplit, wo);
        var pix1 = (long)CeilDiv(ho, rowSplit) * CeilDiv(wo, colSplit);
        var streams1 = wide ? 1 : Math.Min(pack, (int)Math.Min(int.MaxValue, chunks * pix1));
        var spatial = new LayerPlan
        {
            Info = info, Kind = kind, Mapping = Mapping.SpatialSplit, Macs = info.Macs,
            PesUsed = rowSplit * colSplit, PixelsPerPe = pix1, RowSplit = rowSplit, ColSplit = colSplit,
            Passes = passes, Chunks = chunks, Pack = pack,
            PassesPerCore = passes >= hw.CoresPerPe ? CeilDiv(passes, hw.CoresPerPe) : passes,
            UnitsPerCore = CeilDiv(CeilDiv(chunks * pix1, pack), hw.CoresPerPe),
            ReductionCycles = red, Depthwise = depthwise,
            Slow = Math.Max(1.0, (double)streams1 * Math.Min(hw.MacWaysPerLane, cinG) / bandwidth),
            WeightTiles = Math.Max(1, (int)CeilDiv(weightBytes, (long)hw.CoresPerPe * hw.CoreMemBytes)),
            WeightCopies = rowSplit * colSplit, WeightBytes = weightBytes, ParamBytes = paramBytes, ParamsCached = cached,
            OffChipWeightBytes = offChipParams, SpillBytes = spill, ActivationFetches = activationFetches,
        };
        // Channel split: every core of every PE takes its share of lane passes over all pixels. A PE
        // needs the whole input (broadcast) unless the groups are spread over the PEs, in which case
        // each receives only its own groups' channels (distributed: one copy in total).
        var passesCore2 = CeilDiv(passes, hw.Cores);
        var pes2 = Math.Min(hw.Pes, CeilDiv(passes, hw.CoresPerPe));
        var distributed = groups >= pes2 && pes2 > 1;
        var channel = spatial with
        {
            Mapping = Mapping.ChannelSplit,
            PesUsed = pes2,
            PixelsPerPe = (long)ho * wo,
            RowSplit = 1,
            ColSplit = 1,
            PassesPerCore = passesCore2,
            UnitsPerCore = (long)ho * wo * passesCore2,
            Slow = Math.Max(1.0, (double)Math.Min(pack, groups) * Math.Min(hw.MacWaysPerLane, cinG) / bandwidth),
            WeightTiles = Math.Max(1, (int)CeilDiv(weightBytes, (long)hw.Cores * hw.CoreMemBytes)),
            WeightCopies = 1,
            ActivationBroadcastBytes = info.InputShapes[0].Elements,
            ActivationCopies = distributed ? 1 : pes2,
        };

        // Smallest tile: the input rows one output row needs plus that output row, in half a PE memory.
        // Spatial: a PE works pass by pass, so it needs the input channels of one pass (all of them for a
        // full conv, only its groups' for grouped convs) and that pass's outputs.
        var budget = hw.PeMemBytes / 2;
        var cin = (long)groups * cinG;
        var cout = (long)groups * coutG;
        var passIn = wide ? cinG : (long)Math.Min(groups, pack) * cinG;
        var passOut = wide ? Math.Min(coutG, lanes) : (long)Math.Min(groups, pack) * coutG;
        var spatialTile = (inputRowBytesPerChannel * passIn + outputRowBytesPerChannel * passOut) / colSplit;
        var channelTile = inputRowBytesPerChannel * (distributed ? CeilDiv(cin, pes2) : cin) + outputRowBytesPerChannel * CeilDiv(cout, pes2);
        var options = new List<LayerPlan>(2);
        if (spatialTile <= budget) options.Add(spatial);
        if (channelTile <= budget) options.Add(channel);
        if (options.Count == 0)
            throw new UnmappableNetworkException(info.Layer.Name, hw.Id,
                $"one output row needs {Math.Min(spatialTile, channelTile) / 1024.0:0.#} KiB of activations but a PE memory holds {budget / 1024.0:0.#} KiB per buffer");
        return options.Select(o => o with { RowTiles = RowTiles(o, info, hw) }).ToList();
    }

    private static int RowTiles(LayerPlan p, LayerInfo info, HardwareConfig hw)
    {
        var input = p.Mapping == Mapping.ChannelSplit ? info.InputBytes : info.InputBytes / Math.Max(1, p.PesUsed);
        var output = info.OutputBytes / Math.Max(1, p.PesUsed);
        var rowsPerPe = Math.Max(1, p.Mapping == Mapping.ChannelSplit ? info.OutputShape.Height : CeilDiv(info.OutputShape.Height, p.RowSplit));
        return (int)Math.Clamp(CeilDiv(input + output, hw.PeMemBytes / 2), 1, rowsPerPe);
    }

    // Reshapes and flattens are free wherever they run.
    private static bool IsFree(Op op) => op is InputOp or ReshapeOp or FlattenOp;

    /// <summary>Element operations of a non-conv layer (what the vector lanes, or a CPU, do for it).</summary>
    public static long ElementWork(LayerInfo info)
    {
        var o = info.OutputShape.Elements;
        var inputs = info.InputShapes.Sum(s => s.Elements);
        return info.Layer.Op switch
        {
            AddOp or MultiplyOp => inputs,
            WeightedAddOp => 2 * inputs,
            PoolOp p => o * p.Kernel * p.Kernel,
            GlobalPoolOp => inputs,
            ResizeOp r => r.Mode == ResizeMode.Bilinear ? 4 * o : o,
            SoftmaxOp => 5 * o,
            LayerNormOp => 3 * o,
            HostOp => Math.Max(inputs, o),
            _ => o, // activation, concat (copy), embedding (gather)
        };
    }

    private static LayerPlan Vector(LayerInfo info, HardwareConfig hw, string kind, long paramBytes, bool cached, long offChipParams, long spill)
    {
        var o = info.OutputShape.Elements;
        var inputs = info.InputShapes.Sum(s => s.Elements);
        var work = ElementWork(info);
        var bytes = inputs + o;
        var lanes = (double)hw.Cores * hw.LanesPerCore;
        var cycles = (long)Math.Ceiling(Math.Max(work / lanes, bytes / ((double)hw.Pes * hw.PeMemBytesPerCycle)));
        var gathered = info.Layer.Op is EmbeddingOp ? o : 0;
        return new LayerPlan
        {
            Info = info, Kind = kind, Mapping = Mapping.Vector, VectorElements = work, VectorBytes = bytes, VectorCycles = cycles,
            ParamBytes = paramBytes, ParamsCached = cached, OffChipWeightBytes = offChipParams + gathered, SpillBytes = spill,
            PesUsed = hw.Pes, ActivationFetches = inputs,
        };
    }

    internal static int CeilDiv(int a, int b) => (a + b - 1) / b;

    internal static long CeilDiv(long a, long b) => (a + b - 1) / b;
}
