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
                shapes.Length, placement.Cached[i], placement.ActivationReserveBytes);
            var cached = placement.Cached[i];
            var reserve = placement.ActivationReserveBytes;
            entries[i] = cache.GetOrAdd(key, () =>
            {
                var plan = EdgeTpuCompiler.Plan(info, hw, cached, reserve);
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
        double totalCycles = 0, dynamicPj = 0;
        long spill = 0;
        var linkTransfers = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            var info = network.Infos[i];
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
        var (inputBytes, outputBytes) = InputOutputBytes(network);
        var host = new HostCost(
            InvocationMs: hw.CalibrationInterceptMs + hw.Host.InvocationOverheadUs * 1e-3,
            InputMs: hw.Host.TransferMs(inputBytes),
            OutputMs: hw.Host.TransferMs(outputBytes),
            LinkLatencyMs: hw.Host.DeviceDram ? 0 : linkTransfers * hw.Host.TransferLatencyUs * 1e-3,
            CpuMs: 0);
        var latencyMs = acceleratorMs + host.TotalMs;
        // Input and output cross the link (the SoC's DRAM or the host link) at the off-chip energy per byte.
        dynamicPj += (inputBytes + outputBytes) * hw.Energy.OffChipPjPerByte;
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
            PowerBudgetW = hw.PowerBudgetW,
        };
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
