using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using NasCluster.Cluster.Tests.Support;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// <c>nascluster serve</c> as a user runs it, with outside clients: the Python client's examples (Debian's
/// python3-grpcio, python3-grpc-tools and python3-optuna, stubs generated from the repository's .proto)
/// against a real server process, which then stops cleanly on SIGTERM.
/// </summary>
[Trait("Tier", "slow")]
public sealed partial class CostServiceProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nascluster-serve-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepoRoot
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "NasCluster.sln"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("the repository root (NasCluster.sln) is not above the test's directory");
        }
    }

    private static (int Code, string Out, string Err) Run(string file, params string[] args) => RunWithInput(null, file, args);

    private static (int Code, string Out, string Err) RunWithInput(string? input, string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = input is not null, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) p.Kill(entireProcessTree: true);
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [GeneratedRegex(@"serving nascluster\.cost\.v1\.CostService on http://127\.0\.0\.1:(\d+)")]
    private static partial Regex Serving();

    [Fact]
    public async Task The_python_examples_price_through_a_served_process_which_stops_with_exit_0_on_sigterm()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "nascluster.dll");
        var info = Run("dotnet", cli, "spaces", "info", "mnv2-edgetpu-classification", "--json");
        Assert.Equal(0, info.Code);
        var spaceInfo = Path.Combine(_dir, "space.json");
        File.WriteAllText(spaceInfo, info.Out);

        using var server = NodeProcess.Start("nascluster.dll", _dir, "serve", "--port", "0");
        await Nodes.Until(() => Serving().IsMatch(server.Output) || server.HasExited, TimeSpan.FromSeconds(60), "the server's listening line");
        Assert.False(server.HasExited, server.Output);
        var target = $"127.0.0.1:{Serving().Match(server.Output).Groups[1].Value}";
        var examples = Path.Combine(RepoRoot, "clients", "python", "examples");

        var loop = Run("/usr/bin/python3", Path.Combine(examples, "price_loop.py"), "--target", target, "--space-info", spaceInfo, "--count", "10");
        Assert.True(loop.Code == 0, loop.Err);
        var lines = loop.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("simulator ppe-", lines[0], StringComparison.Ordinal);
        var priced = lines.Skip(1).Take(10).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(priced, p => Assert.True(p.GetProperty("latency_ms").GetDouble() > 0 && p.GetProperty("macs").GetInt64() > 0));
        Assert.Equal(10, priced.Select(p => p.GetProperty("hash").GetString()).Distinct().Count());
        Assert.Equal("network.candidate.decisions.no_such_decision", JsonDocument.Parse(lines[11]).RootElement.GetProperty("refused").GetString());

        var study = Run("/usr/bin/python3", Path.Combine(examples, "optuna_study.py"), "--target", target, "--space-info", spaceInfo, "--trials", "30");
        Assert.True(study.Code == 0, study.Err);
        var summary = JsonDocument.Parse(study.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal(30, summary.GetProperty("trials").GetInt32());
        Assert.InRange(summary.GetProperty("pareto").GetInt32(), 1, 30);

        // bench/optuna_driver.py prices over the service and computes the benchmarks' synthetic quality and
        // MnasNet reward itself (the formula's one other copy): its numbers must be the pipe's, which uses
        // SyntheticQuality.Of and RewardFunction.
        var bench = Path.Combine(_dir, "optuna");
        var driver = Run("/usr/bin/python3", Path.Combine(RepoRoot, "bench", "optuna_driver.py"), "--target", target, "--space-info", spaceInfo,
            "--trials", "12", "--seeds", "1", "--samplers", "tpe,nsga2", "--out", bench);
        Assert.True(driver.Code == 0, driver.Err);
        var trials = Directory.GetFiles(bench, "optuna-*-seed1.jsonl").Order(StringComparer.Ordinal)
            .SelectMany(File.ReadAllLines).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(24, trials.Count);
        var stdin = string.Join('\n', trials.Select(t => t.GetProperty("decisions").GetRawText())) + "\n";
        var pipe = RunWithInput(stdin, "dotnet", cli, "estimate", "--batch", "--space", "mnv2-edgetpu-classification",
            "--quality", "synthetic", "--objective", "mnas", "--latency-target-ms", "1.5");
        Assert.True(pipe.Code == 0, pipe.Err);
        var expected = pipe.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(trials.Count, expected.Count);
        foreach (var (got, want) in trials.Zip(expected))
        {
            Assert.Equal(want.GetProperty("hash").GetString(), got.GetProperty("hash").GetString());
            foreach (var field in new[] { "quality", "reward", "latency_ms" })
                Assert.Equal(want.GetProperty(field).GetDouble(), got.GetProperty(field).GetDouble(), 12);
        }

        Assert.Equal(0, Run("kill", "-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).Code);
        Assert.Equal(0, await server.WaitForExit(TimeSpan.FromSeconds(30)));
    }
}
