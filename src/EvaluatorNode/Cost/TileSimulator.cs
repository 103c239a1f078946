using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;

namespace NasCluster.EvaluatorNode.Cost;

/// <summary>
/// Discrete-event simulation of a compiled network over tiles (edgetpu.md §6.4). Each layer becomes
/// tasks — weight-tile loads on the shared weight broadcast bus (preceded by a transfer on the shared
/// off-chip DMA channel when parameters stream), activation loads and stores on the DMA when activations
/// spill, activation broadcasts for the channel split, and per-PE compute of every (weight tile, row
/// tile) pair — with two weight buffers per core (a tile's load may start once the tile two back is no
/// longer computed on, also across layers) and a barrier plus the fixed layer overhead between layers.
/// Resources serve requests in the order they become ready. It reads the same plans as the analytical
/// model and reports in the same shape; in the large-tile, no-contention limit the two agree.
/// </summary>
public static class TileSimulator
{
    public static CostReport Estimate(Network network, HardwareConfig hw, LayerCostCache? cache = null, CancellationToken cancel = default)
    {
        var (entries, placement) = CostModel.Price(network, hw, cache, cancel);
        var plans = entries.Select(e => e.Plan).ToArray();
        var cycles = Simulate(plans, hw, cancel);
        var bounds = new Bound[entries.Length];
        for (var i = 0; i < bounds.Length; i++) bounds[i] = entries[i].Time.Bound;
        return CostModel.Report(network, hw, Fidelity.Detailed, entries, placement, cycles, bounds);
    }

    private sealed class Resource
    {
        public double FreeAt;
    }

    private sealed class Task(double duration, Resource? resource)
    {
        public readonly double Duration = duration;
        public readonly Resource? Resource = resource;
        public readonly List<Task> Dependents = [];
        public int Pending;
        public double ReadyAt;
        public double End;

        public void After(Task? dependency)
        {
            if (dependency is null) return;
            dependency.Dependents.Add(this);
            Pending++;
        }
    }

    /// <summary>Simulated cycles per layer (layer end minus previous layer end), parallel to <paramref name="plans"/>.</summary>
    public static double[] Simulate(IReadOnlyList<LayerPlan> plans, HardwareConfig hw, CancellationToken cancel = default)
    {
        var dma = new Resource();
        var bus = new Resource();
        var actNet = new Resource();
        var pes = Enumerable.Range(0, hw.Pes).Select(_ => new Resource()).ToArray();
        var tasks = new List<Task>();
        Task Add(double duration, Resource? resource)
        {
            var t = new Task(duration, resource);
            tasks.Add(t);
            return t;
        }

        // Weight buffers: a weight tile may load once the tile two loads back is released.
        var releases = new List<Task>();
        var layerEnds = new Task?[plans.Count];
        Task? previousEnd = null;
        for (var l = 0; l < plans.Count; l++)
        {
            cancel.ThrowIfCancellationRequested();
            var p = plans[l];
            if (p.Mapping is Mapping.None or Mapping.Host)
            {
                layerEnds[l] = previousEnd;
                continue;
            }
            var start = Add(hw.LayerOverheadCycles, null);
            start.After(previousEnd);
            var end = Add(0, null);
            var offChipPerCycle = hw.OffChipBytesPerCycle;

            if (p.Mapping == Mapping.Vector)
            {
                Task? fetch = null;
                if (p.OffChipWeightBytes + p.SpillBytes > 0)
                {
                    fetch = Add((p.OffChipWeightBytes + p.SpillBytes) / offChipPerCycle, dma);
                    fetch.After(start);
                }
                var used = Math.Max(1, Math.Min(hw.Pes, p.PesUsed));
                for (var pe = 0; pe < used; pe++)
                {
                    var work = Add(p.VectorCycles, pes[pe]);
                    work.After(start);
                    work.After(fetch);
                    end.After(work);
                }
                layerEnds[l] = previousEnd = end;
                continue;
            }

            var weightTiles = Math.Max(1, p.WeightTiles);
            var rowTiles = Math.Max(1, p.RowTiles);
            var pesUsed = Math.Max(1, p.PesUsed);
            var tileBytes = (double)p.WeightBytes / weightTiles;
            var streamedPerTile = (double)p.OffChipWeightBytes / weightTiles;
            var spillShare = p.SpillBytes / 2.0 / (rowTiles * pesUsed);
            var (units, passes) = WorkPerPe(p, pesUsed, hw);

            var loads = new Task?[rowTiles, pesUsed];
            var broadcasts = new Task?[rowTiles];
            for (var r = 0; r < rowTiles; r++)
            {
                if (p.ActivationBroadcastBytes > 0)
                {
                    broadcasts[r] = Add((double)p.ActivationBroadcastBytes / rowTiles / hw.ActivationBroadcastBytesPerCycle, actNet);
                    broadcasts[r]!.After(start);
                }
                if (spillShare > 0)
                    for (var pe = 0; pe < pesUsed; pe++)
                    {
                        loads[r, pe] = Add(spillShare / offChipPerCycle, dma);
                        loads[r, pe]!.After(start);
                    }
            }

            var lastCompute = new Task?[rowTiles, pesUsed];
            for (var w = 0; w < weightTiles; w++)
            {
                Task? transfer = null;
                if (streamedPerTile > 0) transfer = Add(streamedPerTile / offChipPerCycle, dma);
                var load = Add(tileBytes / hw.WeightBroadcastBytesPerCycle, bus);
                load.After(transfer);
                if (releases.Count >= 2)
                {
                    load.After(releases[^2]);
                    transfer?.After(releases[^2]);
                }
                var release = Add(0, null);
                for (var r = 0; r < rowTiles; r++)
                    for (var pe = 0; pe < pesUsed; pe++)
                    {
                        var tileUnits = Share(units[pe], rowTiles, r) / (double)weightTiles;
                        var duration = tileUnits * p.ReductionCycles * p.Slow + passes[pe] / (double)weightTiles * hw.PassOverheadCycles;
                        var compute = Add(duration, pes[pe]);
                        compute.After(start);
                        compute.After(load);
                        compute.After(loads[r, pe]);
                        compute.After(broadcasts[r]);
                        compute.After(lastCompute[r, pe]);
                        release.After(compute);
                        lastCompute[r, pe] = compute;
                    }
                releases.Add(release);
                end.After(release);
            }
            if (spillShare > 0)
                for (var r = 0; r < rowTiles; r++)
                    for (var pe = 0; pe < pesUsed; pe++)
                    {
                        var store = Add(spillShare / offChipPerCycle, dma);
                        store.After(lastCompute[r, pe]);
                        end.After(store);
                    }
            layerEnds[l] = previousEnd = end;
        }

        Run(tasks, cancel);

        var result = new double[plans.Count];
        var last = 0.0;
        for (var l = 0; l < plans.Count; l++)
        {
            var t = layerEnds[l]?.End ?? last;
            result[l] = t - last;
            last = t;
        }
        return result;
    }

    /// <summary>Processes tasks in the order they become ready; a busy resource delays the start.</summary>
    private static void Run(List<Task> tasks, CancellationToken cancel)
    {
        var ready = new PriorityQueue<Task, (double, int)>();
        var sequence = 0;
        foreach (var t in tasks)
            if (t.Pending == 0) ready.Enqueue(t, (0, sequence++));
        var done = 0;
        while (ready.TryDequeue(out var t, out _))
        {
            var start = t.ReadyAt;
            if (t.Resource is { } r)
            {
                start = Math.Max(start, r.FreeAt);
                r.FreeAt = start + t.Duration;
            }
            t.End = start + t.Duration;
            if (++done % 4096 == 0) cancel.ThrowIfCancellationRequested();
            foreach (var d in t.Dependents)
            {
                if (t.End > d.ReadyAt) d.ReadyAt = t.End;
                if (--d.Pending == 0) ready.Enqueue(d, (d.ReadyAt, sequence++));
            }
        }
        if (done != tasks.Count) throw new InvalidOperationException($"tile simulation deadlocked: {tasks.Count - done} tasks never became ready");
    }

    /// <summary>
    /// Per used PE: (pixel × lane pass) units of its busiest core, and that core's lane passes. The
    /// spatial split gives PEs the actual row / column bands (so edge PEs may have less to do).
    /// </summary>
    private static (long[] Units, int[] Passes) WorkPerPe(LayerPlan p, int pesUsed, HardwareConfig hw)
    {
        var units = new long[pesUsed];
        var passes = new int[pesUsed];
        if (p.Mapping == Mapping.SpatialSplit)
        {
            var (ho, wo) = (p.Info.OutputShape.Height, p.Info.OutputShape.Width);
            for (var i = 0; i < pesUsed; i++)
            {
                var pixels = Share(ho, p.RowSplit, i / p.ColSplit) * Share(wo, p.ColSplit, i % p.ColSplit);
                units[i] = Ceil(Ceil(p.Chunks * pixels, p.Pack), hw.CoresPerPe);
                passes[i] = p.PassesPerCore;
            }
            return (units, passes);
        }
        var cores = hw.Cores;
        for (var i = 0; i < pesUsed; i++)
        {
            var busiest = 0;
            for (var c = i * hw.CoresPerPe; c < (i + 1) * hw.CoresPerPe; c++)
                busiest = Math.Max(busiest, (int)Share(p.Passes, cores, c));
            passes[i] = busiest;
            units[i] = p.PixelsPerPe * busiest;
        }
        return (units, passes);
    }

    private static long Ceil(long a, long b) => (a + b - 1) / b;

    /// <summary>The <paramref name="index"/>-th of <paramref name="parts"/> balanced shares of <paramref name="total"/>.</summary>
    private static long Share(long total, int parts, int index) => total / parts + (index < total % parts ? 1 : 0);
}
