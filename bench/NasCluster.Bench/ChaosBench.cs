using System.Globalization;
using NasCluster.Chaos;

namespace NasCluster.Bench;

/// <summary>
/// `chaos`: the chaos harness (<see cref="ChaosHarness"/>) with its figures printed — kills survived, the
/// stall after each kill and after each join, trials/s with and without kills — and its checks; exit 1 when
/// a check fails. Needs a PostgreSQL server (`--pg URL`, or NASCLUSTER_TEST_PG; scripts/chaos.sh starts one).
/// </summary>
public static class ChaosBench
{
    public static int Run(string[] args)
    {
        var pg = BenchArgs.Text(args, "--pg") ?? Environment.GetEnvironmentVariable("NASCLUSTER_TEST_PG")
            ?? throw new BenchArgumentException("needs a PostgreSQL server: --pg postgres://user:password@host:port/postgres (scripts/chaos.sh starts one)");
        var dir = Directory.CreateTempSubdirectory("nas-chaos-").FullName;
        var options = new ChaosOptions(pg, dir)
        {
            Trials = BenchArgs.Int(args, "--trials", 3000),
            Kills = BenchArgs.Int(args, "--kills", 20),
            Seed = BenchArgs.Int(args, "--seed", 1),
            NodeConfig = BenchArgs.Text(args, "--node-config") is { } file ? File.ReadAllText(file) : null,
            Spacing = (BenchArgs.Double(args, "--spacing-min", 6), BenchArgs.Double(args, "--spacing-max", 12)),
            OverlapChance = BenchArgs.Double(args, "--overlap", 0.35),
            Log = line => Console.WriteLine(line),
        };
        Console.WriteLine($"chaos: {options.Trials} trials, {options.Kills} kills, seed {options.Seed}; node logs in {dir}");
        ChaosResult r;
        using (var harness = new ChaosHarness(options)) r = harness.Run();

        static string S(double x) => x.ToString("0.0", CultureInfo.InvariantCulture);
        Console.WriteLine();
        Console.WriteLine("| # | at (s) | killed | stall after (s) |");
        Console.WriteLine("|---|---|---|---|");
        for (var i = 0; i < r.Kills.Count; i++) Console.WriteLine($"| {i + 1} | {S(r.Kills[i].AtSeconds)} | {r.Kills[i].Node} | {S(r.Kills[i].StallSeconds)} |");
        Console.WriteLine();
        foreach (var role in new[] { "evaluator", "trainer", "coordinator" })
        {
            var ks = r.Kills.Where(k => k.Role == role).ToList();
            if (ks.Count > 0)
                Console.WriteLine($"{role}: {ks.Count} kills, stall median {S(Median(ks.Select(k => k.StallSeconds)))} s, max {S(ks.Max(k => k.StallSeconds))} s");
        }
        if (r.Joins.Count > 0)
            Console.WriteLine($"joins: {r.Joins.Count}, stall in the 10 s after a join: median {S(Median(r.Joins.Select(j => j.StallSeconds)))} s, max {S(r.Joins.Max(j => j.StallSeconds))} s");
        Console.WriteLine($"baseline (no kills): {S(r.BaselineSeconds)} s, {S(r.BaselineTrialsPerSecond)} trials/s, longest stall {S(r.BaselineLongestStall)} s");
        Console.WriteLine($"chaos: {S(r.ChaosSeconds)} s, {S(r.ChaosTrialsPerSecond)} trials/s; {r.Preempted} attempts preempted");
        Console.WriteLine(r.Problems.Count == 0
            ? "checks: every trial accounted once, trajectory equal to the uninterrupted standalone run, nothing left running"
            : "PROBLEMS:\n  " + string.Join("\n  ", r.Problems));
        if (r.Problems.Count == 0 && !args.Contains("--keep")) Directory.Delete(dir, true); // kept (node logs) when a check failed, or with --keep
        return r.Problems.Count == 0 ? 0 : 1;
    }

    private static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count == 0 ? 0 : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
