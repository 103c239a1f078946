using System.Diagnostics;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Bench;

/// <summary>
/// How fast the coordinator can turn sampled candidates into networks and architecture hashes (the
/// key of de-duplication and of the cost cache): candidates per second per core, per built-in space.
/// </summary>
internal static class IrBench
{
    public static int Run(string[] args)
    {
        var seconds = BenchArgs.Double(args, "--seconds", 3.0);
        Console.WriteLine($"IR benchmark: sample + build + SHA-256 architecture hash, single thread, {seconds:0.#} s per space");
        Console.WriteLine($"{"space",-30} {"layers",7} {"build/s",9} {"build+hash/s",13} {"alloc/cand",11}");
        foreach (var name in BuiltInSpaces.Names)
        {
            var space = BuiltInSpaces.Load(name);
            var rng = new DeterministicRng(1);
            for (var i = 0; i < 200; i++) _ = space.Build(space.Sample(rng)).Hash; // warm-up
            var (buildRate, layers, _) = Measure(space, seconds / 2, hash: false);
            var (hashRate, _, alloc) = Measure(space, seconds / 2, hash: true);
            Console.WriteLine($"{name,-30} {layers,7:0} {buildRate,9:0} {hashRate,13:0} {alloc / 1024.0,8:0} KiB");
        }
        return 0;
    }

    private static (double Rate, double Layers, double AllocPerCandidate) Measure(Space space, double seconds, bool hash)
    {
        var rng = new DeterministicRng(2);
        var sw = Stopwatch.StartNew();
        var before = GC.GetAllocatedBytesForCurrentThread();
        long n = 0, layers = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            var net = space.Build(space.Sample(rng));
            if (hash) _ = net.Hash;
            layers += net.Layers.Length;
            n++;
        }
        var alloc = GC.GetAllocatedBytesForCurrentThread() - before;
        return (n / sw.Elapsed.TotalSeconds, (double)layers / n, (double)alloc / n);
    }
}
