using System.Diagnostics;
using System.Threading.Channels;
using Akka.Actor;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>Starting cluster nodes for tests: ActorSystems in this process, and node executables as child processes.</summary>
public static class Nodes
{
    /// <summary>
    /// Failure detection and downing in seconds rather than tens of seconds, so crash tests finish quickly;
    /// everything else is the shipped configuration.
    /// </summary>
    public const string FastFailover = """
        nascluster.downing.stable-after = 1s
        nascluster.downing.takeover-after = 2s
        nascluster.downing.lease-ttl = 2s
        akka.cluster.failure-detector.heartbeat-interval = 500ms
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
        akka.remote.watch-failure-detector.heartbeat-interval = 500ms
        akka.remote.watch-failure-detector.acceptable-heartbeat-pause = 3s
        akka.cluster.sharding.rebalance-interval = 1s
        akka.cluster.sharding.retry-interval = 500ms
        akka.cluster.sharding.coordinator-failure-backoff = 1s
        akka.cluster.sharding.shard-start-timeout = 2s
        akka.cluster.singleton.hand-over-retry-interval = 500ms
        """;

    public static string WriteFastFailoverConfig(string directory)
    {
        var path = Path.Combine(directory, "fast-failover.conf");
        File.WriteAllText(path, FastFailover);
        return path;
    }

    public static Task<ClusterNode> Start(string db, IReadOnlyList<string> roles, IReadOnlyList<string>? seeds = null, TrainerAgentSettings? trainer = null,
        Func<Evaluate, CostSummary>? pricer = null, string? extraHocon = null) =>
        ClusterNode.StartAsync(new NodeOptions { Roles = roles, Seeds = seeds ?? [], Db = db }, trainer, extraHocon ?? FastFailover, TimeSpan.FromSeconds(60), pricer: pricer);

    public static string Seed(ClusterNode node) => $"{node.Address.Host}:{node.Address.Port}";

    public static TrainerAgentSettings SyntheticTrainer(string id, int slots = 1, int delayMs = 0) =>
        new(id, slots, new ProxyEnvironment(), Path.Combine(Path.GetTempPath(), "nas-weights")) { SyntheticDelay = TimeSpan.FromMilliseconds(delayMs) };

    /// <summary>A pricer that takes <paramref name="delayMs"/> of wall time per evaluation and then prices for real.</summary>
    public static Func<Evaluate, CostSummary> SlowPricer(int delayMs) => e =>
    {
        Thread.Sleep(delayMs);
        return EvaluatorNode.Cluster.EvaluatorEntity.Price(e, EvaluatorNode.Cost.LayerCostCache.Shared);
    };

    /// <summary>Starts an experiment and returns a task that completes when it reports done.</summary>
    public static async Task<Task<ExperimentDone>> StartSearch(ClusterNode node, ExperimentSpec spec)
    {
        var reply = await node.Registry.Ask<object>(new StartExperiment(spec), TimeSpan.FromSeconds(30));
        Assert.IsType<ExperimentAccepted>(reply);
        return Watch(node, spec.Name);
    }

    public static Task<ExperimentDone> Watch(ClusterNode node, string name)
    {
        var channel = Channel.CreateUnbounded<ExperimentDone>();
        var watcher = node.System.ActorOf(Props.Create(() => new DoneWatcher(channel.Writer)));
        node.Registry.Tell(new WatchExperiment(name), watcher);
        return channel.Reader.ReadAsync().AsTask();
    }

    private sealed class DoneWatcher : ReceiveActor
    {
        public DoneWatcher(ChannelWriter<ExperimentDone> done)
        {
            Receive<ExperimentDone>(d => done.TryWrite(d));
            Receive<ExperimentProgress>(_ => { });
        }
    }

    /// <summary>Waits for a condition that eventually holds (no fixed sleeps in tests).</summary>
    public static async Task Until(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(50);
        }
    }
}

/// <summary>A node executable run as a child process (killed for real in crash tests).</summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly TaskCompletionSource<string> _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(string executable, IEnumerable<string> args, string workingDirectory)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, executable));
        info.Environment["NASCLUSTER_SEEDS"] = "";
        foreach (var a in args)
        {
            // A database password goes to the child's environment, never onto its command line (ps shows those to everyone).
            if (a.StartsWith("postgres://", StringComparison.Ordinal) && new Uri(a) is { UserInfo: var info2 } uri && info2.Contains(':', StringComparison.Ordinal))
            {
                info.Environment["NASCLUSTER_DB_PASSWORD"] = Uri.UnescapeDataString(info2.Split(':', 2)[1]);
                info.ArgumentList.Add(new UriBuilder(uri) { Password = "" }.Uri.ToString());
            }
            else info.ArgumentList.Add(a);
        }
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Line(e.Data);
        _process.ErrorDataReceived += (_, e) => Line(e.Data);
        _process.Exited += (_, _) => _up.TrySetException(new InvalidOperationException($"{executable} exited with {_process.ExitCode}:\n{Output}"));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Line(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
        if (line.Contains(" is up with roles", StringComparison.Ordinal)) _up.TrySetResult(line);
    }

    public string Output
    {
        get
        {
            lock (_output) return string.Join('\n', _output);
        }
    }

    public int Id => _process.Id;

    /// <summary>The node's cluster address, from its "node ADDRESS is up" line (once it is up).</summary>
    public Address Address => Address.Parse(_up.Task.Result.Split(' ')[1]);

    public bool HasExited => _process.HasExited;

    public static NodeProcess Start(string executable, string workingDirectory, params string[] args) => new(executable, args, workingDirectory);

    /// <summary>Starts a node executable and waits until it has joined.</summary>
    public static async Task<NodeProcess> StartNode(string executable, string workingDirectory, params string[] args)
    {
        var p = new NodeProcess(executable, args, workingDirectory);
        await p._up.Task.WaitAsync(TimeSpan.FromSeconds(90));
        return p;
    }

    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"process did not exit within {timeout.TotalSeconds:0} s:\n{Output}");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no shutdown hooks, no graceful leave, nothing flushed.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
