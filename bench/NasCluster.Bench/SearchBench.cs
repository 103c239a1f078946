using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NasCluster.Coordinator.Pareto;
using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;

namespace NasCluster.Bench;

/// <summary>
/// Search efficiency on the built-in classification space: REINFORCE, regularized evolution and random
/// search (and, when given, Optuna runs from bench/optuna_driver.py) with the real analytical cost model
/// (pixel6) and the documented synthetic quality function, scored the same way: best reward against
/// trials, trials needed to reach random search's final best, and the final quality-vs-latency
/// hypervolume.
/// </summary>
internal static class SearchBench
{
    private static readonly int[] Checkpoints = [50, 100, 200, 500, 1000, 1500, 2000];
    private const double HvReferenceLatencyMs = 4.0, HvReferenceQuality = 0.78;

    public static int Run(string[] args)
    {
        var trials = BenchArgs.Int(args, "--trials", 2000);
        var seeds = BenchArgs.Int(args, "--seeds", 5);
        var batch = BenchArgs.Int(args, "--batch", 20);
        var target = BenchArgs.Double(args, "--latency-target-ms", 1.5);
        var optunaDir = BenchArgs.Text(args, "--optuna") ?? "";
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var hw = HardwarePresets.Get("pixel6");
        var reward = RewardFunction.Parse("mnas", target, null, null);
        var cache = new LayerCostCache();
        Console.WriteLine($"search efficiency: {space.Name} (10^{space.Log10Size:0.0}), {trials} trials x {seeds} seeds, batch {batch}, {hw.Id} analytical");
        Console.WriteLine($"objective {reward.Describe()}; quality = synthetic (see SyntheticQuality); hypervolume of quality vs latency within {HvReferenceLatencyMs} ms and above quality {HvReferenceQuality}");

        var runs = new Dictionary<string, List<SearchRun>>();
        foreach (var kind in new[] { "random", "reinforce", "evolution" })
        {
            runs[kind] = [];
            for (var seed = 1; seed <= seeds; seed++)
            {
                var clock = Stopwatch.StartNew();
                var runner = new SearchRunner(space, Controllers.Create(kind, space, seed), reward, network =>
                {
                    var r = CostModel.Estimate(network, hw, Fidelity.Analytical, cache);
                    return (new TrialMeasurement(SyntheticQuality.Of(network), r.LatencyMs, r.EnergyMj, network.Params), null);
                });
                runner.Run(trials, batch);
                runs[kind].Add(new SearchRun(runner.Trials.Select(t => (t.Reward, t.Measurement!.Quality, t.Measurement.LatencyMs)).ToList(), clock.Elapsed.TotalSeconds,
                    runner.Trials.Count(t => t.Reused)));
            }
        }
        if (optunaDir.Length > 0)
            foreach (var sampler in new[] { "tpe", "nsga2" })
            {
                var files = Directory.Exists(optunaDir) ? Directory.GetFiles(optunaDir, $"optuna-{sampler}-seed*.jsonl").Order().ToList() : [];
                if (files.Count == 0) continue;
                runs[$"optuna-{sampler}"] = files.Select(f => ReadOptuna(f, trials)).ToList();
            }

        var randomFinal = Median(runs["random"].Select(r => r.BestAt(trials)));
        Console.WriteLine();
        Console.WriteLine($"best reward (median over seeds) after N trials; random search's final best = {randomFinal:0.00000}");
        Console.WriteLine($"{"controller",-16}" + string.Concat(Checkpoints.Where(c => c <= trials).Select(c => $"{c,10}")) + $"{"to reach",10}{"HV",9}{"reused",8}{"s/run",7}");
        foreach (var (kind, list) in runs)
        {
            var row = $"{kind,-16}" + string.Concat(Checkpoints.Where(c => c <= trials).Select(c => $"{Median(list.Select(r => r.BestAt(c))),10:0.00000}"));
            var reach = list.Select(r => r.TrialsToReach(randomFinal)).Order().ToList();
            var medianReach = reach[reach.Count / 2];
            row += $"{(medianReach is { } m ? m.ToString(CultureInfo.InvariantCulture) : $">{trials}"),10}";
            row += $"{Median(list.Select(r => r.Hypervolume())),9:0.0000}";
            row += $"{list.Average(r => r.Reused),8:0}{list.Average(r => r.Seconds),7:0.0}";
            Console.WriteLine(row);
        }
        Console.WriteLine();
        Console.WriteLine("trials to reach random search's final best, per seed:");
        foreach (var (kind, list) in runs)
            Console.WriteLine($"  {kind,-16} {string.Join(" ", list.Select(r => r.TrialsToReach(randomFinal)?.ToString(CultureInfo.InvariantCulture) ?? "-"))}");
        return 0;
    }

    private static SearchRun ReadOptuna(string path, int trials)
    {
        var rows = new List<(double, double, double)>();
        foreach (var line in File.ReadLines(path).Take(trials))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            rows.Add((e.GetProperty("reward").GetDouble(), e.GetProperty("quality").GetDouble(), e.GetProperty("latency_ms").GetDouble()));
        }
        using var meta = File.Exists(path + ".meta") ? JsonDocument.Parse(File.ReadAllText(path + ".meta")) : null;
        var seconds = meta?.RootElement.GetProperty("seconds").GetDouble() ?? double.NaN;
        return new SearchRun(rows, seconds, 0);
    }

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    private sealed record SearchRun(List<(double Reward, double Quality, double LatencyMs)> Trials, double Seconds, int Reused)
    {
        public double BestAt(int n) => Trials.Take(n).Max(t => t.Reward);

        public int? TrialsToReach(double value)
        {
            var best = double.MinValue;
            for (var i = 0; i < Trials.Count; i++)
            {
                best = Math.Max(best, Trials[i].Reward);
                if (best >= value) return i + 1;
            }
            return null;
        }

        public double Hypervolume()
        {
            var front = new ParetoFront();
            for (var i = 0; i < Trials.Count; i++) front.Add(new ParetoPoint(i.ToString(CultureInfo.InvariantCulture), Trials[i].LatencyMs, Trials[i].Quality));
            return front.Hypervolume(HvReferenceLatencyMs, HvReferenceQuality);
        }
    }
}
