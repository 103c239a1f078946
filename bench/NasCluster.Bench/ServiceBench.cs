using System.Diagnostics;
using Grpc.Net.Client;
using NasCluster.Coordinator.Hosting;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Service;
using NasCluster.NodeHosting;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Bench;

/// <summary>
/// The cost service against pricing in-process, side by side in one run (bench/README.md): in-process
/// estimates/s (the decoder and backend the service uses, without gRPC); the service from .NET with single
/// requests (p50, p99), batches of 100 and a stream; the same from Python (Debian's grpcio, if present);
/// and the service on a cluster with 1 and 2 evaluator nodes. Every phase prices distinct candidates of
/// the classification space that nothing has priced before (its own seed), analytical fidelity, pixel6.
/// </summary>
public static class ServiceBench
{
    private const string Space = "mnv2-edgetpu-classification";

    public static int Run(string[] args)
    {
        var n = BenchArgs.Int(args, "--n", 4000);
        RunAsync(n, BenchArgs.Text(args, "--python") ?? "/usr/bin/python3").GetAwaiter().GetResult();
        return 0;
    }

    private static EvaluateRequest[] Candidates(int count, ulong seed)
    {
        var space = BuiltInSpaces.Load(Space);
        var rng = new DeterministicRng(seed);
        var seen = new HashSet<string>();
        var list = new List<EvaluateRequest>(count);
        while (list.Count < count)
        {
            var c = space.Sample(rng);
            if (!seen.Add(c.Key)) continue;
            var candidate = new SpaceCandidate { BuiltInSpace = Space };
            candidate.ChoiceIndices.AddRange(c.Vector);
            list.Add(new EvaluateRequest { Network = new NetworkSource { Candidate = candidate }, Hardware = new HardwareSource { Preset = "pixel6" } });
        }
        return [.. list];
    }

    private static async Task RunAsync(int n, string python)
    {
        Console.WriteLine($"== cost service vs in-process: {n} distinct candidates per phase, analytical, pixel6, {Environment.ProcessorCount} cores ==");
        var seed = 100UL;

        // In-process: the service's own decode and pricing path, without gRPC, on all cores.
        {
            var decoder = new PricingRequestDecoder();
            var backend = new InProcessCostBackend(new LayerCostCache());
            var warm = Candidates(200, seed++);
            foreach (var r in warm) await backend.PriceAsync(decoder.Decode(r), default);
            var requests = Candidates(n, seed++);
            var clock = Stopwatch.StartNew();
            await Parallel.ForEachAsync(requests, async (r, _) => await backend.PriceAsync(decoder.Decode(r), default));
            Console.WriteLine($"{"in-process (decode + price, all cores)",-44} {n / clock.Elapsed.TotalSeconds,10:N0} estimates/s");
        }

        await using (var server = await CostServer.StartAsync(new CostServerOptions { Port = 0 }, new InProcessCostBackend(new LayerCostCache())))
        {
            await Measure("service, .NET client", server.Port, n, () => seed++);
            Python(python, server.Port, n);
        }

        foreach (var evaluators in new[] { 1, 2 })
        {
            var db = Path.Combine(Path.GetTempPath(), $"nas-service-bench-{Environment.ProcessId}-{evaluators}.db");
            try
            {
                await using var coordinator = await ClusterNode.StartAsync(new NodeOptions { Roles = ["coordinator"], Db = db });
                var seedNode = $"{coordinator.Address.Host}:{coordinator.Address.Port}";
                var nodes = new List<ClusterNode>();
                for (var i = 0; i < evaluators; i++) nodes.Add(await ClusterNode.StartAsync(new NodeOptions { Roles = ["evaluator"], Seeds = [seedNode], Db = db }));
                var backend = new ClusterCostBackend(coordinator.System, coordinator.Evaluators, TimeSpan.FromSeconds(60));
                await using (var server = await CostServer.StartAsync(new CostServerOptions { Port = 0 }, backend))
                    await Measure($"service --join, {evaluators} evaluator node(s)", server.Port, n, () => seed++, singles: false);
                foreach (var node in nodes) await node.DisposeAsync();
            }
            finally
            {
                File.Delete(db);
            }
        }
    }

    private static async Task Measure(string label, int port, int n, Func<ulong> nextSeed, bool singles = true)
    {
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new CostService.CostServiceClient(channel);
        var warm = new EvaluateBatchRequest();
        warm.Items.AddRange(Candidates(200, nextSeed()));
        await client.EvaluateBatchAsync(warm);

        if (singles)
        {
            var requests = Candidates(Math.Min(n, 2000), nextSeed());
            var latencies = new double[requests.Length];
            var total = Stopwatch.StartNew();
            for (var i = 0; i < requests.Length; i++)
            {
                var t = Stopwatch.GetTimestamp();
                await client.EvaluateAsync(requests[i]);
                latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
            Array.Sort(latencies);
            Console.WriteLine($"{label + ", single",-44} {requests.Length / total.Elapsed.TotalSeconds,10:N0} requests/s   p50 {latencies[latencies.Length / 2]:F3} ms   p99 {latencies[(int)(latencies.Length * 0.99)]:F3} ms");
        }

        var batchRequests = Candidates(n, nextSeed());
        var clock = Stopwatch.StartNew();
        var batches = batchRequests.Chunk(100).Select(async chunk =>
        {
            var b = new EvaluateBatchRequest();
            b.Items.AddRange(chunk);
            return await client.EvaluateBatchAsync(b);
        }).ToList();
        // Four batches in flight at a time, as a client with a few workers sends them.
        var done = 0;
        foreach (var group in batches.Chunk(4)) done += (await Task.WhenAll(group)).Sum(r => r.Items.Count);
        Console.WriteLine($"{label + ", batches of 100",-44} {done / clock.Elapsed.TotalSeconds,10:N0} estimates/s");

        var streamRequests = Candidates(n, nextSeed());
        clock.Restart();
        using var call = client.EvaluateStream();
        var reader = Task.Run(async () =>
        {
            var count = 0;
            while (await call.ResponseStream.MoveNext(default)) count++;
            return count;
        });
        for (var i = 0; i < streamRequests.Length; i++) await call.RequestStream.WriteAsync(new EvaluateStreamRequest { RequestId = i.ToString(System.Globalization.CultureInfo.InvariantCulture), Request = streamRequests[i] });
        await call.RequestStream.CompleteAsync();
        var answered = await reader;
        Console.WriteLine($"{label + ", stream",-44} {answered / clock.Elapsed.TotalSeconds,10:N0} estimates/s");
    }

    private static void Python(string python, int port, int n)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "service_python.py");
        if (!File.Exists(python) || !File.Exists(script))
        {
            Console.WriteLine($"(python client: {python} or {script} missing; skipped)");
            return;
        }
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var spaceInfo = Path.Combine(Path.GetTempPath(), $"nas-space-info-{Environment.ProcessId}.json");
        File.WriteAllText(spaceInfo, SpaceInfoJson());
        foreach (var a in new[] { script, "--target", $"127.0.0.1:{port}", "--space-info", spaceInfo, "--n", Math.Min(n, 2000).ToString(System.Globalization.CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        File.Delete(spaceInfo);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries)) Console.WriteLine($"service, {line}");
        if (p.ExitCode != 0) Console.WriteLine($"(python client failed: {error.Trim()})");
    }

    /// <summary>The decisions and choices of the space, as <c>spaces info --json</c> lists them (what the Python client reads).</summary>
    private static string SpaceInfoJson()
    {
        var space = BuiltInSpaces.Load(Space);
        var decisions = space.Decisions.Select(d => new Dictionary<string, object?>
        {
            ["name"] = d.Name,
            ["choices"] = d.Choices.Select(c => c.Kind == ChoiceKind.Text ? (object?)c.AsText : c.AsInteger is { } i ? i : c.AsDouble).ToList(),
        });
        return System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["name"] = space.Name, ["decisions"] = decisions });
    }
}
