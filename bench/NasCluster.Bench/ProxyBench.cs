using System.Diagnostics;
using System.Globalization;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Training;

namespace NasCluster.Bench;

/// <summary>
/// Is the proxy worth anything? Candidates sampled from the classification space are trained at the
/// proxy budget and at 10× that budget; the proxy is useful if it ranks them like the longer training
/// (Kendall τ, Spearman ρ), and affordable if one candidate takes ≤ 30 s on the 2-core machine.
/// </summary>
internal static class ProxyBench
{
    public static int Run(string[] args)
    {
        int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).DefaultIfEmpty(fallback).First();
        var count = Arg("--candidates", 30);
        var steps = Arg("--steps", new TrainingConfig().Steps);
        var factor = Arg("--factor", 10);
        var seed = Arg("--seed", 1);
        var threads = Arg("--threads", Environment.ProcessorCount);
        TorchSharp.torch.set_num_threads(threads);

        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var rng = new DeterministicRng((ulong)seed);
        var candidates = Enumerable.Range(0, count).Select(_ => space.Build(space.Sample(rng))).ToList();
        var environment = new ProxyEnvironment();
        var clock = Stopwatch.StartNew();
        var teacher = Teacher.GetOrTrain(FashionMnist.Load(), environment.Teacher, null, Console.WriteLine);
        Console.WriteLine($"teacher: test accuracy {teacher.TestAccuracy:P2} ({(teacher.FromCache ? "cached" : $"trained in {clock.Elapsed.TotalSeconds:0} s")})");
        Console.WriteLine($"proxy validity: {count} candidates of {space.Name} (seed {seed}), proxy {steps} steps vs reference {steps * factor} steps, {threads} threads");
        Console.WriteLine($"{"#",3} {"params",8} {"proxy acc",10} {"proxy s",8} {"ref acc",8} {"ref s",7}");

        var proxy = new List<double>();
        var reference = new List<double>();
        var wall = new List<double>();
        var config = new TrainingConfig { Steps = steps };
        for (var i = 0; i < candidates.Count; i++)
        {
            var p = ProxyTrainer.Run(candidates[i], config, environment);
            var r = ProxyTrainer.Run(candidates[i], config with { Steps = steps * factor }, environment);
            if (!p.Succeeded || !r.Succeeded)
            {
                Console.WriteLine($"{i,3} failed: {p.FailureReason ?? r.FailureReason}");
                continue;
            }
            proxy.Add(p.Score);
            reference.Add(r.Score);
            wall.Add(p.WallSeconds);
            Console.WriteLine($"{i,3} {candidates[i].Params / 1e6,7:0.00}M {p.Score,10:P2} {p.WallSeconds,8:0.0} {r.Score,8:P2} {r.WallSeconds,7:0.0}");
        }
        Console.WriteLine($"Kendall tau  {Statistics.KendallTau(proxy, reference):0.000}   (goal >= 0.5)");
        Console.WriteLine($"Spearman rho {Statistics.Spearman(proxy, reference):0.000}");
        Console.WriteLine($"proxy wall time per candidate: mean {wall.Average():0.0} s, max {wall.Max():0.0} s   (goal <= 30 s on 2 cores)");
        Console.WriteLine($"reference accuracy range {reference.Min():P2} - {reference.Max():P2}; proxy range {proxy.Min():P2} - {proxy.Max():P2}");
        return 0;
    }
}
