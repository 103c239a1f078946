using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;

namespace NasCluster.EvaluatorNode.Cost;

/// <summary>
/// The PPE service's entry point: compile a network for an accelerator, time it with the analytical
/// model or the tile simulator, add the power model, and report in one <see cref="CostReport"/> shape.
/// </summary>
public static class CostModel
{
    /// <summary>
    /// Version of the cost models' behaviour. Experiments record it and refuse to resume under another, so
    /// results of one experiment always come from one simulator. Bump it when a change alters any number.
    /// </summary>
    public const string Version = "ppe-2";

    /// <param name="network">The network to price.</param>
    /// <param name="hw">The accelerator.</param>
    /// <param name="fidelity">Analytical model or tile-level simulation.</param>
    /// <param name="cache">Per-layer costs (default: the process-wide cache).</param>
    /// <param name="cancel">Stops the work between layers (the cost service's clients have deadlines).</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> fired.</exception>
    public static CostReport Estimate(Network network, HardwareConfig hw, Fidelity fidelity = Fidelity.Analytical, LayerCostCache? cache = null,
        CancellationToken cancel = default) =>
        fidelity == Fidelity.Analytical
            ? AnalyticalLatencyModel.Estimate(network, hw, cache, cancel)
            : TileSimulator.Estimate(network, hw, cache, cancel);

    /// <summary>Plans, closed-form times and dynamic energies of every layer, through the per-layer cache.</summary>
    internal static (LayerCostCache.Entry[] Entries, EdgeTpuCompiler.Placement Placement) Price(Network network, HardwareConfig hw, LayerCostCache? cache,
        CancellationToken cancel = default)
    {
        cache ??= LayerCostCache.Shared;
        var placement = EdgeTpuCompiler.Place(network, hw);
        var infos = network.Infos;
        var entries = new LayerCostCache.Entry[infos.Length];
        for (var i = 0; i < infos.Length; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var info = infos[i];
            var shapes = info.InputShapes;
            var key = new LayerCostCache.Key(HardwareFingerprint.Of(hw), info.Layer.Op, shapes.Length > 0 ? shapes[0] : default, shapes.Length > 1 ? shapes[1] : default,
                shapes.Length, placement.Cached[i], placement.ActivationReserveBytes, placement.OnHost[i]);
            var cached = placement.Cached[i];
            var reserve = placement.ActivationReserveBytes;
            var onHost = placement.OnHost[i];
            entries[i] = cache.GetOrAdd(key, () =>
            {
                var plan = EdgeTpuCompiler.Plan(info, hw, cached, reserve, onHost);
                return new LayerCostCache.Entry(plan, LayerCycles.Analytical(plan, hw), PowerModel.DynamicEnergyPj(plan, hw));
            });
        }
        return (entries, placement);
    }

    /// <summary>Builds the report from per-layer cycles (whichever model produced them).</summary>
    internal static CostReport Report(Network network, HardwareConfig hw, Fidelity fidelity, LayerCostCache.Entry[] entries,
        EdgeTpuCompiler.Placement placement, IReadOnlyList<double> cycles, IReadOnlyList<Bound> bounds)
    {
        var layers = new LayerCost[entries.Length];
        double totalCycles = 0, dynamicPj = 0, cpuMs = 0;
        long spill = 0;
        var linkTransfers = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            var info = network.Infos[i];
            if (e.Plan.Mapping == Mapping.Host)
            {
                var hostMs = HostCpuMs(info, hw);
                cpuMs += hostMs;
                layers[i] = new LayerCost(info.Layer.Name, e.Plan.Kind, Mapping.Host, 0, hostMs, PowerModel.StaticEnergyPj(hw, hostMs) * 1e-6, 0, Bound.HostCpu, info.Macs, 0);
                continue;
            }
            var c = cycles[i];
            totalCycles += c;
            dynamicPj += e.DynamicEnergyPj;
            spill += e.Plan.SpillBytes;
            var offChip = e.Plan.OffChipWeightBytes + e.Plan.SpillBytes;
            if (offChip > 0) linkTransfers++;
            var ms = hw.CyclesToMs(c) * hw.CalibrationSlope;
            layers[i] = new LayerCost(info.Layer.Name, e.Plan.Kind, e.Plan.Mapping, c, ms, (e.DynamicEnergyPj + PowerModel.StaticEnergyPj(hw, ms)) * 1e-6,
                c > 0 ? info.Macs / (c * hw.PeakMacsPerCycle) : 0, bounds[i], info.Macs, offChip);
        }
        var simulatedMs = hw.CyclesToMs(totalCycles);
        var acceleratorMs = hw.CalibrationSlope * simulatedMs;
        var segments = Segments(network, entries, layers);
        var transfers = Transfers(network, placement.OnHost, hw);
        // One invocation per accelerator segment (the runtime hands each to the accelerator); a network that runs
        // wholly on the CPU still pays one, for the interpreter.
        var invocations = Math.Max(1, segments.Count(s => !s.OnHost));
        var host = new HostCost(
            InvocationMs: invocations * (hw.CalibrationInterceptMs + hw.Host.InvocationOverheadUs * 1e-3),
            InputMs: transfers.InputMs,
            OutputMs: transfers.OutputMs,
            LinkLatencyMs: hw.Host.DeviceDram ? 0 : linkTransfers * hw.Host.TransferLatencyUs * 1e-3,
            CpuMs: cpuMs);
        var latencyMs = acceleratorMs + host.TotalMs;
        // Tensors crossing to and from the accelerator move through the link (the SoC's DRAM or the host link).
        dynamicPj += transfers.Bytes * hw.Energy.OffChipPjPerByte;
        var energyMj = (dynamicPj + PowerModel.StaticEnergyPj(hw, latencyMs)) * 1e-9;
        return new CostReport(hw.Id, fidelity,
            LatencyMs: latencyMs,
            SimulatedMs: simulatedMs,
            RuntimeOverheadMs: host.InvocationMs,
            EnergyMj: energyMj,
            PowerW: latencyMs > 0 ? dynamicPj * 1e-9 / latencyMs : 0,
            Utilization: totalCycles > 0 ? network.Macs / (totalCycles * hw.PeakMacsPerCycle) : 0,
            Params: network.Params,
            Macs: network.Macs,
            CachedWeightBytes: placement.CachedBytes,
            StreamedWeightBytes: placement.StreamedBytes,
            ActivationSpillBytes: spill,
            Layers: layers)
        {
            Host = host,
            Segments = segments,
            PowerBudgetW = hw.PowerBudgetW,
        };
    }

    /// <summary>
    /// What a layer costs on the host CPU (<see cref="HostInterface"/>): a fixed cost per op (interpreter dispatch)
    /// plus its operations at the CPU's sustained rate — two per multiply-accumulate, one per element otherwise.
    /// </summary>
    public static double HostCpuMs(LayerInfo info, HardwareConfig hw)
    {
        var ops = info.Layer.Op is Conv2DOp or DenseOp or MatMulOp ? 2.0 * info.Macs : EdgeTpuCompiler.ElementWork(info);
        return hw.Host.CpuOpOverheadUs * 1e-3 + ops / hw.Host.CpuOpsPerSecond * 1e3;
    }

    /// <summary>Maximal runs of layers on one side, in execution order (inputs, reshapes and flattens join the run they are in).</summary>
    private static List<Segment> Segments(Network network, LayerCostCache.Entry[] entries, LayerCost[] layers)
    {
        var segments = new List<Segment>();
        for (var i = 0; i < entries.Length; i++)
        {
            var mapping = entries[i].Plan.Mapping;
            if (mapping == Mapping.None) continue;
            var onHost = mapping == Mapping.Host;
            var name = network.Infos[i].Layer.Name;
            if (segments.Count > 0 && segments[^1].OnHost == onHost)
                segments[^1] = segments[^1] with { LastLayer = name, Layers = segments[^1].Layers + 1, Ms = segments[^1].Ms + layers[i].LatencyMs };
            else
                segments.Add(new Segment(onHost, name, name, 1, layers[i].LatencyMs));
        }
        return segments;
    }

    /// <summary>
    /// Every tensor that crosses between the host and the accelerator, once per direction: network inputs an
    /// accelerator layer reads, tensors one side produces and the other reads, and network outputs the
    /// accelerator produces. Each is one transfer over the link (its latency plus bytes over its bandwidth).
    /// </summary>
    private static (double InputMs, double OutputMs, long Bytes) Transfers(Network network, bool[] onHost, HardwareConfig hw)
    {
        var infos = network.Infos;
        var index = new Dictionary<string, int>(infos.Length, StringComparer.Ordinal);
        for (var i = 0; i < infos.Length; i++) index[infos[i].Layer.Name] = i;
        // Where a tensor lives: host memory (inputs, and what the CPU produced) or the accelerator.
        bool OnAccelerator(int i) => infos[i].Layer.Op is not InputOp && !onHost[i];
        var toDevice = new HashSet<int>();
        var toHost = new HashSet<int>();
        for (var i = 0; i < infos.Length; i++)
        {
            if (infos[i].Layer.Op is InputOp) continue;
            foreach (var input in infos[i].Layer.Inputs)
            {
                var j = index[input];
                if (OnAccelerator(i) && !OnAccelerator(j)) toDevice.Add(j);
                else if (!OnAccelerator(i) && OnAccelerator(j)) toHost.Add(j);
            }
        }
        foreach (var output in network.Outputs)
            if (OnAccelerator(index[output])) toHost.Add(index[output]);
        double inputMs = toDevice.Sum(j => hw.Host.TransferMs(infos[j].OutputBytes)), outputMs = toHost.Sum(j => hw.Host.TransferMs(infos[j].OutputBytes));
        return (inputMs, outputMs, toDevice.Sum(j => infos[j].OutputBytes) + toHost.Sum(j => infos[j].OutputBytes));
    }

    /// <summary>Bytes the host hands over (every input, int8) and takes back (every network output).</summary>
    public static (long Input, long Output) InputOutputBytes(Network network)
    {
        long input = 0, output = 0;
        var outputs = network.Outputs.ToHashSet(StringComparer.Ordinal);
        foreach (var info in network.Infos)
        {
            if (info.Layer.Op is InputOp) input += info.OutputBytes;
            if (outputs.Contains(info.Layer.Name)) output += info.OutputBytes;
        }
        return (input, output);
    }
}

/// <summary>
/// Closed-form latency per layer (edgetpu.md §6.3): a roofline over compute, weight loading, off-chip
/// traffic and activation broadcast, with the activation-reuse limit that keeps depthwise convs from
/// filling wide SIMD lanes; O(1) per layer and cached by layer signature.
/// </summary>
public static class AnalyticalLatencyModel
{
    public static CostReport Estimate(Network network, HardwareConfig hw, LayerCostCache? cache = null, CancellationToken cancel = default)
    {
        var (entries, placement) = CostModel.Price(network, hw, cache, cancel);
        var cycles = new double[entries.Length];
        var bounds = new Bound[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            cycles[i] = entries[i].Time.Total;
            bounds[i] = entries[i].Time.Bound;
        }
        return CostModel.Report(network, hw, Fidelity.Analytical, entries, placement, cycles, bounds);
    }
}
