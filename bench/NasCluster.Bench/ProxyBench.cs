using System.Globalization;
using System.Text.Json;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Training;

namespace NasCluster.Bench;

/// <summary>
/// Is the proxy worth anything? Candidates sampled from the classification space are trained at the
/// proxy budget and at 10× that budget; the proxy is useful if it ranks them like the longer training
/// (Kendall τ, Spearman ρ), and affordable if one candidate takes ≤ 30 s on the 2-core machine.
/// The reference is averaged over several training seeds: the candidates lie within two accuracy points
/// of one another, so one run of the reference is itself a noisy ranking. Its seed-to-seed agreement is
/// printed too: it bounds how well any proxy can agree with a single reference run.
/// Every training is appended to a runs file and reused by later invocations with the same key, so the
/// multi-hour measurement can be interrupted and resumed, or extended by more reference seeds.
/// </summary>
internal static class ProxyBench
{
    private const int RecordVersion = 2;

    /// <summary>The bench's candidates: the first <paramref name="count"/> samples of a space (the classification space by default) for a seed.</summary>
    public static List<Network> Candidates(int seed, int count, string spaceName = SpaceName)
    {
        var space = BuiltInSpaces.Load(spaceName);
        var rng = new DeterministicRng((ulong)seed);
        return Enumerable.Range(0, count).Select(_ => space.Build(space.Sample(rng))).ToList();
    }

    public const string SpaceName = "mnv2-edgetpu-classification";

    public static int Run(string[] args)
    {
        var count = BenchArgs.Int(args, "--candidates", 30);
        var steps = BenchArgs.Int(args, "--steps", new TrainingConfig().Steps);
        var factor = BenchArgs.Int(args, "--factor", 10);
        var seed = BenchArgs.Int(args, "--seed", 1);
        var referenceSeeds = BenchArgs.Int(args, "--reference-seeds", 2);
        var proxySeeds = BenchArgs.Int(args, "--proxy-seeds", 1);
        var referenceSteps = BenchArgs.Int(args, "--reference-steps", steps * factor);
        var batch = BenchArgs.Int(args, "--batch", new TrainingConfig().BatchSize);
        var threads = BenchArgs.Int(args, "--threads", Environment.ProcessorCount);
        var runsPath = Path.GetFullPath(BenchArgs.Text(args, "--runs") ?? Path.Combine("bench", "out", "proxy-runs.jsonl"));
        var spaceName = BenchArgs.Text(args, "--space") ?? SpaceName;
        ProxyTask task;
        try
        {
            task = ProxyTasks.Parse(BuiltInSpaces.Load(spaceName).Task);
        }
        catch (NasInputException e)
        {
            Console.Error.WriteLine($"proxy: {e.Message}");
            return 2;
        }
        if (count < 2 || steps < 1 || factor < 1 || referenceSteps < 1 || batch < 1 || referenceSeeds < 1 || proxySeeds < 1 || threads < 1)
        {
            Console.Error.WriteLine("proxy: --candidates must be >= 2; --steps, --batch, --factor, --reference-steps, --reference-seeds, --proxy-seeds and --threads >= 1");
            return 2;
        }
        TorchSharp.torch.set_num_threads(threads);

        var candidates = Candidates(seed, count, spaceName);
        if (args.Contains("--list"))
        {
            for (var i = 0; i < candidates.Count; i++) Console.WriteLine($"{i} {candidates[i].Hash}");
            return 0;
        }
        var environment = new ProxyEnvironment();
        RunsFile runs;
        if (task == ProxyTask.Classification)
        {
            var teacher = Teacher.GetOrTrain(FashionMnist.Load(), environment.Teacher, null, Console.WriteLine);
            runs = new RunsFile(runsPath, $"v{RecordVersion}|{teacher.Key}|{environment.Spec}|{threads}");
            Console.WriteLine($"teacher: test accuracy {teacher.TestAccuracy:P2} ({(teacher.FromCache ? "cached" : "trained now")})");
        }
        else
        {
            // Segmentation trains without a teacher: the scenes and the scaling determine a run.
            runs = new RunsFile(runsPath, $"v{RecordVersion}|{ProxyTasks.Name(task)}|{FashionMnist.Load().Fingerprint}|{environment.ScenesFor(task)}|{environment.Spec}|{threads}");
            Console.WriteLine($"{ProxyTasks.Name(task)}: scenes {environment.ScenesFor(task)}; no teacher, score {ProxyTasks.Metric(task)} on the validation scenes");
        }
        var metric = task == ProxyTask.Segmentation ? "mIoU" : "acc";
        Console.WriteLine($"proxy validity: {count} candidates of {spaceName} (seed {seed}), proxy {steps} steps of batch {batch} (training seed 0) vs reference " +
                          $"{referenceSteps} steps (mean of training seeds 0..{referenceSeeds - 1}), {threads} threads; runs file {runsPath} ({runs.Count} runs on record)");
        Console.WriteLine($"{"#",3} {"params",8} {"proxy " + metric,10} {"proxy s",8} {"ref " + metric + " (per seed)",-24} {"ref mean",9}");

        var proxy = new List<double>();
        var wall = new List<double>();
        var wallAllSeeds = new List<double>();
        var reference = Enumerable.Range(0, referenceSeeds).Select(_ => new List<double>()).ToArray();
        var otherProxies = Enumerable.Range(1, proxySeeds - 1).Select(_ => new List<double>()).ToArray();
        var failed = 0;
        var proxyRecipe = TrainingConfig.For(task) with { Steps = steps, BatchSize = batch };
        for (var i = 0; i < candidates.Count; i++)
        {
            var p = runs.GetOrRun(candidates[i], proxyRecipe, environment);
            var r = Enumerable.Range(0, referenceSeeds)
                .Select(s => runs.GetOrRun(candidates[i], TrainingConfig.For(task) with { Steps = referenceSteps, Seed = s }, environment)).ToArray();
            var q = Enumerable.Range(1, proxySeeds - 1)
                .Select(s => runs.GetOrRun(candidates[i], proxyRecipe with { Seed = s }, environment)).ToArray();
            if (!p.Succeeded || r.Any(x => !x.Succeeded) || q.Any(x => !x.Succeeded))
            {
                failed++;
                Console.WriteLine($"{i,3} failed: {p.Failure ?? r.Concat(q).First(x => !x.Succeeded).Failure}");
                continue;
            }
            for (var s = 0; s < q.Length; s++) otherProxies[s].Add(q[s].Score);
            proxy.Add(p.Score);
            wall.Add(p.WallSeconds);
            wallAllSeeds.Add(p.WallSeconds + q.Sum(x => x.WallSeconds));
            for (var s = 0; s < referenceSeeds; s++) reference[s].Add(r[s].Score);
            var perSeed = string.Join(" ", r.Select(x => x.Score.ToString("P2", CultureInfo.InvariantCulture)));
            Console.WriteLine($"{i,3} {candidates[i].Params / 1e6,7:0.00}M {p.Score,10:P2} {p.WallSeconds,8:0.0} {perSeed,-24} {r.Average(x => x.Score),9:P2}");
        }
        if (proxy.Count < 2)
        {
            Console.Error.WriteLine($"proxy: only {proxy.Count} of {count} candidates trained; no ranking to measure");
            return 1;
        }
        var mean = Enumerable.Range(0, proxy.Count).Select(k => reference.Average(s => s[k])).ToList();
        static string Agreement(List<double> a, List<double> b) =>
            $"tau {Statistics.KendallTau(a, b):0.000}, rho {Statistics.Spearman(a, b):0.000}, mean |difference| {a.Zip(b, (x, y) => Math.Abs(x - y)).Average() * 100:0.00} points";
        Console.WriteLine($"Kendall tau  {Statistics.KendallTau(proxy, mean):0.000}   proxy vs mean reference (goal >= 0.5)");
        Console.WriteLine($"Spearman rho {Statistics.Spearman(proxy, mean):0.000}");
        for (var s = 0; s < referenceSeeds && referenceSeeds > 1; s++)
            Console.WriteLine($"  proxy vs reference seed {s} alone: tau {Statistics.KendallTau(proxy, reference[s]):0.000}, rho {Statistics.Spearman(proxy, reference[s]):0.000}");
        for (var a = 0; a < referenceSeeds; a++)
            for (var b = a + 1; b < referenceSeeds; b++)
                Console.WriteLine($"  reference seed {a} vs seed {b} (the yardstick's own agreement): {Agreement(reference[a], reference[b])}");
        if (proxySeeds > 1)
        {
            // A search trains each candidate once; other proxy seeds only show how much one proxy run varies.
            var proxyMean = Enumerable.Range(0, proxy.Count).Select(k => (proxy[k] + otherProxies.Sum(o => o[k])) / proxySeeds).ToList();
            for (var s = 0; s < otherProxies.Length; s++)
                Console.WriteLine($"  proxy seed 0 vs seed {s + 1}: {Agreement(proxy, otherProxies[s])}");
            Console.WriteLine($"  mean of {proxySeeds} proxy seeds ({proxySeeds}x the cost) vs mean reference: tau {Statistics.KendallTau(proxyMean, mean):0.000}, rho {Statistics.Spearman(proxyMean, mean):0.000}; " +
                              $"wall for all {proxySeeds} per candidate: mean {wallAllSeeds.Average():0.0} s, max {wallAllSeeds.Max():0.0} s");
        }
        var sorted = wall.Order().ToList();
        Console.WriteLine($"proxy wall time per candidate: mean {wall.Average():0.0} s, median {sorted[sorted.Count / 2]:0.0} s, max {wall.Max():0.0} s, " +
                          $"{wall.Count(w => w > 30)} of {wall.Count} over 30 s   (goal <= 30 s on 2 cores)");
        Console.WriteLine($"reference {metric} range {mean.Min():P2} - {mean.Max():P2} (mean over seeds); proxy range {proxy.Min():P2} - {proxy.Max():P2}");
        if (failed > 0) Console.WriteLine($"{failed} candidate(s) failed to train and are left out");
        return 0;
    }

    /// <summary>One training's outcome as the runs file keeps it.</summary>
    private sealed record RunRecord(string Key, bool Succeeded, double Score, double WallSeconds, double? ValidationLoss, string? Failure, string When);

    /// <summary>
    /// Append-only JSON lines, one per training, keyed by what determines the result (record version,
    /// teacher, proxy scaling, libtorch threads, architecture hash, training recipe, training seed). A line that
    /// does not parse (a run killed mid-write) is skipped.
    /// </summary>
    private sealed class RunsFile
    {
        private readonly string path;
        private readonly string context;
        private readonly Dictionary<string, RunRecord> records = new();

        public RunsFile(string path, string context)
        {
            this.path = path;
            this.context = context;
            if (!File.Exists(path)) return;
            // A run killed mid-write leaves a line without its newline; end it so the next record starts afresh.
            using (var tail = File.Open(path, FileMode.Open, FileAccess.ReadWrite))
                if (tail.Length > 0 && tail.Seek(-1, SeekOrigin.End) >= 0 && tail.ReadByte() != '\n') tail.WriteByte((byte)'\n');
            foreach (var line in File.ReadLines(path))
            {
                try
                {
                    if (JsonSerializer.Deserialize<RunRecord>(line) is { } r) records[Upgrade(r.Key)] = r;
                }
                catch (JsonException)
                {
                }
            }
        }

        public int Count => records.Count;

        /// <summary>
        /// Version 1 keys named only the step count; the recipe was then fixed (batch 64, Adam at 0.003, T 4,
        /// distillation weight 1, no warm-up, clipping or averaging). Version 2 keys name the whole recipe.
        /// </summary>
        private static string Upgrade(string key)
        {
            var f = key.Split('|');
            if (f.Length != 7 || f[0] != "v1" || !int.TryParse(f[5], CultureInfo.InvariantCulture, out var steps)) return key;
            var recipe = new TrainingConfig { Steps = steps, BatchSize = 64, LearningRate = 0.003, Temperature = 4, DistillationWeight = 1 }.Recipe;
            return string.Join('|', "v2", f[1], f[2], f[3], f[4], recipe, f[6]);
        }

        public RunRecord GetOrRun(Network candidate, TrainingConfig config, ProxyEnvironment environment)
        {
            var key = $"{context}|{candidate.Hash}|{config.Recipe}|{config.Seed}";
            if (records.TryGetValue(key, out var known)) return known;
            var result = ProxyTrainer.Run(candidate, config, environment);
            var record = new RunRecord(key, result.Succeeded, result.Score, result.WallSeconds, result.Succeeded ? result.ValidationLoss : null,
                result.FailureReason, DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.AppendAllText(path, JsonSerializer.Serialize(record) + "\n");
            records[key] = record;
            return record;
        }
    }
}
