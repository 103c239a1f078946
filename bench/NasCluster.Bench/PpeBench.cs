using System.Diagnostics;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;

namespace NasCluster.Bench;

/// <summary>
/// Speed and memory of the performance/power evaluation: analytical estimates and detailed (tile-level)
/// simulations per second on one core, the per-layer cost cache's hit rate, and the managed heap over
/// 100,000 estimates.
/// </summary>
internal static class PpeBench
{
    public static int Run(string[] args)
    {
        var seconds = BenchArgs.Double(args, "--seconds", 3.0);
        var hw = HardwarePresets.Get("pixel6");
        var target = ModelZoo.Build("mobilenet-edgetpu-v2-s");
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var candidates = Candidates(space, 2000, 11);
        Console.WriteLine($"PPE benchmark on {hw.Id}, single thread, {seconds:0.#} s per measurement; {Environment.ProcessorCount} cores present");

        var cache = new LayerCostCache();
        CostModel.Estimate(target, hw, Fidelity.Analytical, cache); // warm-up
        cache.ResetStatistics();
        var (rate, _) = Rate(seconds, _ => CostModel.Estimate(target, hw, Fidelity.Analytical, cache));
        Console.WriteLine($"analytical, mobilenet-edgetpu-v2-s repeated:   {rate,9:N0} estimates/s   cache hit rate {cache.HitRate:P2} ({cache.Count} entries)");

        cache = new LayerCostCache();
        (rate, var n) = Rate(seconds, i => CostModel.Estimate(candidates[i % candidates.Count], hw, Fidelity.Analytical, cache));
        Console.WriteLine($"analytical, {candidates.Count} distinct candidates:   {rate,9:N0} estimates/s   cache hit rate {cache.HitRate:P2} ({cache.Count} entries after {n:N0} estimates)");

        var cold = new LayerCostCache(capacity: 1);
        (rate, _) = Rate(seconds, _ => CostModel.Estimate(target, hw, Fidelity.Analytical, cold));
        Console.WriteLine($"analytical, no cache (capacity 1):             {rate,9:N0} estimates/s");

        cache = new LayerCostCache();
        (rate, _) = Rate(seconds, _ => CostModel.Estimate(target, hw, Fidelity.Detailed, cache));
        Console.WriteLine($"detailed,   mobilenet-edgetpu-v2-s repeated:   {rate,9:N1} networks/s");
        (rate, _) = Rate(seconds, i => CostModel.Estimate(candidates[i % candidates.Count], hw, Fidelity.Detailed, cache));
        Console.WriteLine($"detailed,   distinct candidates:               {rate,9:N1} networks/s");

        Memory(hw, candidates);
        return 0;
    }

    private static List<Network> Candidates(Space space, int count, ulong seed)
    {
        var rng = new DeterministicRng(seed);
        return Enumerable.Range(0, count).Select(_ => space.Build(space.Sample(rng))).ToList();
    }

    private static (double Rate, long Count) Rate(double seconds, Action<int> work)
    {
        var sw = Stopwatch.StartNew();
        var i = 0;
        while (sw.Elapsed.TotalSeconds < seconds) work(i++);
        return (i / sw.Elapsed.TotalSeconds, i);
    }

    private static void Memory(HardwareConfig hw, List<Network> candidates)
    {
        var cache = new LayerCostCache();
        Console.WriteLine("memory over 100,000 analytical estimates (managed heap after a full collection):");
        var sw = Stopwatch.StartNew();
        for (var i = 1; i <= 100_000; i++)
        {
            CostModel.Estimate(candidates[i % candidates.Count], hw, Fidelity.Analytical, cache);
            if (i % 20_000 == 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                Console.WriteLine($"  after {i,7:N0}: heap {GC.GetTotalMemory(false) / 1048576.0,7:0.0} MiB, cache {cache.Count,5} entries, {i / sw.Elapsed.TotalSeconds:N0} estimates/s");
            }
        }
    }
}
