using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using Npgsql;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Chaos;

/// <summary>What the chaos run does; <see cref="Kills"/> SIGKILLs over a search of <see cref="Trials"/> trials.</summary>
public sealed record ChaosOptions(string PostgresAdminUrl, string WorkDirectory)
{
    public int Trials { get; init; } = 3000;
    public int Kills { get; init; } = 20;
    public int Seed { get; init; } = 1;
    public int Batch { get; init; } = 10;
    public int EvaluatorDelayMs { get; init; } = 10;
    public int TrainerDelayMs { get; init; } = 60;
    public int TrainerSlots { get; init; } = 2;

    /// <summary>Seconds between kills, drawn uniformly (seeded).</summary>
    public (double Min, double Max) Spacing { get; init; } = (6, 12);

    /// <summary>Chance that a kill is followed by a second one (another worker) 0.5–3 s later.</summary>
    public double OverlapChance { get; init; } = 0.35;

    /// <summary>Extra HOCON for every node (for example faster failure detection in a short test run).</summary>
    public string? NodeConfig { get; init; }

    public TimeSpan Deadline { get; init; } = TimeSpan.FromMinutes(20);

    public Action<string> Log { get; init; } = _ => { };
}

/// <summary>One SIGKILL: when (seconds since the chaos run started), which node, and how long progress then stalled.</summary>
public sealed record KillRecord(double AtSeconds, string Role, string Node, double StallSeconds);

/// <summary>One node added (a replacement): when, and the longest stall in the 10 s after it joined.</summary>
public sealed record JoinRecord(double AtSeconds, string Role, double StallSeconds);

public sealed record ChaosResult(
    int Trials,
    double BaselineSeconds,
    double ChaosSeconds,
    double BaselineLongestStall,
    IReadOnlyList<KillRecord> Kills,
    IReadOnlyList<JoinRecord> Joins,
    int Preempted,
    IReadOnlyList<string> Problems)
{
    public double BaselineTrialsPerSecond => Trials / BaselineSeconds;

    public double ChaosTrialsPerSecond => Trials / ChaosSeconds;
}

/// <summary>
/// The chaos harness (scripts/chaos.sh, bench/README.md "chaos"): a long synthetic search on a cluster of
/// processes on loopback — two coordinators, two evaluators, two trainers, PostgreSQL — first undisturbed
/// (the baseline), then again while the harness SIGKILLs random evaluator, trainer and coordinator processes
/// (some kills within a few seconds of each other) and starts a replacement for each. At the end it checks
/// what the cluster promises: every trial accounted once (<see cref="LedgerAudit"/>), the trajectory equal to
/// an uninterrupted standalone run of the same seed, nothing left running; and it measures how long progress
/// stalled after each kill and after each join. Bounded: it stops by itself at <see cref="ChaosOptions.Deadline"/>.
/// Its source is shared by the benchmark and by the slow test tier's short run.
/// </summary>
public sealed class ChaosHarness(ChaosOptions options) : IDisposable
{
    private readonly List<NodeProc> _nodes = [];
    private readonly Random _random = new(options.Seed);
    private readonly Stopwatch _clock = new();
    private string? _database;
    private string _dbUrl = "";       // with the password: this process only
    private string _nodeDbUrl = "";   // without it: what the node processes get on their command lines
    private string? _dbPassword;      // ... and this, in their environment (NASCLUSTER_DB_PASSWORD)
    private string _configFile = "";
    private int _started;

    public ChaosResult Run() => RunAsync().GetAwaiter().GetResult();

    private async Task<ChaosResult> RunAsync()
    {
        var o = options;
        Directory.CreateDirectory(o.WorkDirectory);
        _dbUrl = CreateDatabase();
        var url = new Uri(_dbUrl);
        _dbPassword = url.UserInfo.Contains(':', StringComparison.Ordinal) ? Uri.UnescapeDataString(url.UserInfo.Split(':', 2)[1]) : null;
        _nodeDbUrl = new UriBuilder(url) { Password = "" }.Uri.ToString();
        var db = NodeConfig.ParseDb(_dbUrl);
        _configFile = Path.Combine(o.WorkDirectory, "nodes.conf");
        File.WriteAllText(_configFile, o.NodeConfig ?? "");

        foreach (var role in new[] { "coordinator", "coordinator", "evaluator", "evaluator", "trainer", "trainer" }) Start(role).WaitUp(TimeSpan.FromSeconds(90));
        // The harness's own client node (it starts the experiments) logs nothing: the nodes' logs are in the work directory.
        await using var client = await ClusterNode.StartAsync(new NodeOptions { Roles = [], Seeds = Coordinators(), Db = _dbUrl },
            extraHocon: "akka.loglevel = OFF\nakka.stdout-loglevel = OFF\n" + o.NodeConfig, joinTimeout: TimeSpan.FromSeconds(60));

        // The baseline: the same search, another seed (so the evaluators' entities do not already know its candidates), undisturbed.
        o.Log("baseline: no kills");
        var (baselineSeconds, baselineTimes) = await RunSearch(client, db, "baseline", o.Seed + 1000, kill: false);
        var baselineStall = LongestGap(baselineTimes, baselineTimes.FirstOrDefault(), double.MaxValue, baselineSeconds);

        o.Log($"chaos: {o.Kills} kills");
        var kills = new List<(double At, string Role, string Node)>();
        var joins = new List<(double At, string Role)>();
        var (chaosSeconds, chaosTimes) = await RunSearch(client, db, "chaos", o.Seed, kill: true, kills, joins);

        var problems = new List<string>();
        var stored = ExperimentStore.Load(db, "chaos");
        if (!stored.State.Finished) problems.Add("the chaos experiment did not finish (stalled)");
        problems.AddRange(LedgerAudit.Check(ExperimentStore.Events(db, "chaos"), o.Trials).Select(p => "ledger: " + p));
        if (kills.Count < o.Kills) problems.Add($"only {kills.Count} of {o.Kills} kills happened before the search ended (raise --trials)");
        problems.AddRange(await CompareWithStandalone(stored.State));
        foreach (var name in new[] { "baseline", "chaos" })
            if (ExperimentStore.Load(db, name).Condition != ExperimentCondition.Finished) problems.Add($"experiment {name} is left {ExperimentStore.Load(db, name).Condition}");

        // Stall after a kill: the longest gap between progress steps in the 30 s after it (kills close together share a stall).
        var killRecords = kills.Select(k => new KillRecord(k.At, k.Role, k.Node, LongestGap(chaosTimes, k.At, k.At + 30, chaosSeconds))).ToList();
        var joinRecords = joins.Select(j => new JoinRecord(j.At, j.Role, LongestGap(chaosTimes, j.At, j.At + 10, chaosSeconds))).ToList();
        return new ChaosResult(o.Trials, baselineSeconds, chaosSeconds, baselineStall, killRecords, joinRecords, stored.Preempted.Count, problems);
    }

    /// <summary>Runs one experiment to its end (or the deadline), sampling its progress every 100 ms; with <paramref name="kill"/>, kills nodes meanwhile.</summary>
    private async Task<(double Seconds, List<double> ProgressTimes)> RunSearch(ClusterNode client, DatabaseTarget db, string name, int seed, bool kill,
        List<(double, string, string)>? kills = null, List<(double, string)>? joins = null)
    {
        var spec = ExperimentSpecs.Build(new SearchRequest
        {
            Name = name, Space = "mnv2-edgetpu-classification", Trials = options.Trials, BatchSize = options.Batch, Seed = seed, Quality = "synthetic",
        });
        var reply = await client.Registry.Ask<object>(new StartExperiment(spec), TimeSpan.FromSeconds(60));
        if (reply is not ExperimentAccepted) throw new InvalidOperationException($"{name} was not accepted: {reply}");
        _clock.Restart();
        var times = new List<double>();
        long last = 0;
        var nextKill = kill ? NextSpacing() : double.MaxValue;
        var pending = new List<(double At, string Role)>(); // replacements to start
        var second = new List<double>();                     // overlapping second kills
        var joining = new List<NodeProc>();
        var end = DateTime.UtcNow + options.Deadline;
        while (DateTime.UtcNow < end)
        {
            await Task.Delay(100);
            var now = _clock.Elapsed.TotalSeconds;
            long progress;
            try
            {
                progress = ExperimentStore.Progress(db, name);
            }
            catch (Shared.Util.NasInputException)
            {
                continue;
            }
            if (progress > last) times.Add(now);
            last = progress;
            if (progress >= options.Trials && ExperimentStore.Load(db, name).State.Finished) break;
            if (kill && kills!.Count < options.Kills && (now >= nextKill || second.Any(t => t <= now)))
            {
                var overlapping = now < nextKill;
                second.RemoveAll(t => t <= now);
                // A second crash inside the first one's detection window is a worker of either role.
                var role = overlapping ? (_random.NextDouble() < 0.5 ? "evaluator" : "trainer") : PickRole();
                if (Kill(role, kills) is { } victim)
                {
                    pending.Add((now + 2 + _random.NextDouble() * 3, victim));
                    if (!overlapping && _random.NextDouble() < options.OverlapChance) second.Add(now + 0.5 + _random.NextDouble() * 2.5);
                }
                if (!overlapping) nextKill = now + NextSpacing();
            }
            foreach (var p in pending.Where(p => p.At <= now).ToList())
            {
                pending.Remove(p);
                joining.Add(Start(p.Role));
            }
            foreach (var j in joining.Where(j => j.UpAt is not null).ToList())
            {
                joining.Remove(j);
                joins!.Add((j.UpAt!.Value, j.Role));
            }
        }
        foreach (var p in pending) Start(p.Role);
        return (_clock.Elapsed.TotalSeconds, times);
    }

    private double NextSpacing() => options.Spacing.Min + _random.NextDouble() * (options.Spacing.Max - options.Spacing.Min);

    /// <summary>A coordinator only while two are up (20%), else an evaluator or a trainer.</summary>
    private string PickRole() => _random.NextDouble() switch
    {
        < 0.2 when _nodes.Count(n => n is { Role: "coordinator", Killed: false, UpAt: not null }) >= 2 => "coordinator",
        < 0.6 => "evaluator",
        _ => "trainer",
    };

    /// <summary>SIGKILL of a random up node of the role, unless it is the last one up (its replacement is on the way); returns the role killed.</summary>
    private string? Kill(string role, List<(double, string, string)> kills)
    {
        var candidates = _nodes.Where(n => !n.Killed && n.Role == role && n.UpAt is not null).ToList();
        if (candidates.Count < 2) return null;
        var victim = candidates[_random.Next(candidates.Count)];
        victim.Kill();
        kills.Add((_clock.Elapsed.TotalSeconds, role, victim.Name));
        options.Log($"{_clock.Elapsed.TotalSeconds,7:0.0} s  SIGKILL {victim.Name}");
        return role;
    }

    /// <summary>The same search in one standalone process (SQLite), never interrupted: the trajectory the chaos run must follow.</summary>
    private async Task<IEnumerable<string>> CompareWithStandalone(ExperimentState chaos)
    {
        var sqlite = Path.Combine(options.WorkDirectory, "reference.db");
        await using (var node = await ClusterNode.StartAsync(new NodeOptions { Db = sqlite },
                         new TrainerAgentSettings("reference", options.TrainerSlots, new ProxyEnvironment(), Path.Combine(options.WorkDirectory, "weights")),
                         "nascluster.registry.remember-running = off"))
        {
            var spec = ExperimentSpecs.Build(new SearchRequest
            {
                Name = "chaos", Space = "mnv2-edgetpu-classification", Trials = options.Trials, BatchSize = options.Batch, Seed = options.Seed, Quality = "synthetic",
            });
            var reply = await node.Registry.Ask<object>(new StartExperiment(spec), TimeSpan.FromSeconds(60));
            if (reply is not ExperimentAccepted) return [$"the standalone reference was not accepted: {reply}"];
            var db = NodeConfig.ParseDb(sqlite);
            var end = DateTime.UtcNow + options.Deadline;
            while (!ExperimentStore.Load(db, "chaos").State.Finished && DateTime.UtcNow < end) await Task.Delay(200);
        }
        var reference = ExperimentStore.Load(NodeConfig.ParseDb(sqlite), "chaos").State;
        var problems = new List<string>();
        if (!reference.Trials.Select(t => t.Hash).SequenceEqual(chaos.Trials.Select(t => t.Hash)))
            problems.Add("trajectory: the candidates differ from the uninterrupted standalone run");
        if (!reference.Trials.Select(t => reference.Reward(t)).SequenceEqual(chaos.Trials.Select(t => chaos.Reward(t))))
            problems.Add("trajectory: the rewards differ from the uninterrupted standalone run");
        if (reference.ControllerState != chaos.ControllerState) problems.Add("trajectory: the final controller state differs from the standalone run");
        return problems;
    }

    private string[] Coordinators() =>
        [.. _nodes.Where(n => n.Role == "coordinator" && !n.Killed && n.Address is not null).Select(n => n.Address!)];

    /// <summary>Starts a node process (not waiting for it): it joins through the coordinators up now.</summary>
    private NodeProc Start(string role)
    {
        var seeds = Coordinators().SelectMany(s => new[] { "--seed", s }).ToArray();
        var id = ++_started;
        var name = $"{role}-{id}";
        string[] args = role switch
        {
            "coordinator" => ["coordinator", "--db", _nodeDbUrl, .. seeds],
            "evaluator" => [.. seeds, "--threads", "1", "--work-delay-ms", options.EvaluatorDelayMs.ToString(CultureInfo.InvariantCulture)],
            _ => [.. seeds, "--skip-teacher", "--id", name, "--slots", options.TrainerSlots.ToString(CultureInfo.InvariantCulture),
                "--work-delay-ms", options.TrainerDelayMs.ToString(CultureInfo.InvariantCulture)],
        };
        var dll = role switch { "coordinator" => "nascluster.dll", "evaluator" => "nascluster-evaluator.dll", _ => "nascluster-trainer.dll" };
        var node = new NodeProc(name, role, dll, [.. args, "--config", _configFile], _dbPassword, Path.Combine(options.WorkDirectory, name + ".log"),
            () => _clock.Elapsed.TotalSeconds, up => options.Log($"{_clock.Elapsed.TotalSeconds,7:0.0} s  {name} is up at {up}"));
        _nodes.Add(node);
        return node;
    }

    /// <summary>The longest time without progress between <paramref name="from"/> and <paramref name="until"/> (capped at the run's end).</summary>
    private static double LongestGap(List<double> times, double from, double until, double runEnd)
    {
        var end = Math.Min(until, runEnd);
        var points = times.Where(t => t > from && t < end).Prepend(from).Append(end).ToList();
        return points.Zip(points.Skip(1), (a, b) => b - a).DefaultIfEmpty(0).Max();
    }

    private string CreateDatabase()
    {
        var admin = NodeConfig.ParseDb(options.PostgresAdminUrl).ConnectionString;
        _database = "nas_chaos_" + Guid.NewGuid().ToString("N")[..12];
        using (var c = new NpgsqlConnection(admin))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"CREATE DATABASE {_database}";
            cmd.ExecuteNonQuery();
        }
        return new UriBuilder(new Uri(options.PostgresAdminUrl)) { Path = "/" + _database }.Uri.ToString();
    }

    public void Dispose()
    {
        foreach (var n in _nodes) n.Dispose();
        if (_database is null) return;
        NpgsqlConnection.ClearAllPools();
        using var c = new NpgsqlConnection(NodeConfig.ParseDb(options.PostgresAdminUrl).ConnectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)";
        cmd.ExecuteNonQuery();
    }

    /// <summary>A node process; its output goes to a log file in the work directory.</summary>
    private sealed class NodeProc : IDisposable
    {
        private readonly Process _process;
        private readonly StreamWriter _log;
        private readonly TaskCompletionSource<string> _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private readonly Func<double> _now;
        private readonly Action<string> _onUp;

        public NodeProc(string name, string role, string dll, string[] args, string? dbPassword, string logPath, Func<double> now, Action<string> onUp)
        {
            (Name, Role, _now, _onUp) = (name, role, now, onUp);
            _log = new StreamWriter(logPath) { AutoFlush = true };
            var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
            foreach (var a in args) info.ArgumentList.Add(a);
            info.Environment["NASCLUSTER_SEEDS"] = "";
            if (dbPassword is not null) info.Environment["NASCLUSTER_DB_PASSWORD"] = dbPassword; // never on a command line (ps)
            _process = new Process { StartInfo = info, EnableRaisingEvents = true };
            _process.OutputDataReceived += (_, e) => Line(e.Data);
            _process.ErrorDataReceived += (_, e) => Line(e.Data);
            _process.Exited += (_, _) => _up.TrySetException(new InvalidOperationException($"{name} exited with {_process.ExitCode} (see {logPath})"));
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Name { get; }

        public string Role { get; }

        public bool Killed { get; private set; }

        /// <summary>host:port, once up.</summary>
        public string? Address { get; private set; }

        /// <summary>When it was up (seconds on the run's clock).</summary>
        public double? UpAt { get; private set; }

        private void Line(string? line)
        {
            if (line is null) return;
            lock (_log) _log.WriteLine(line);
            if (!line.Contains(" is up with roles", StringComparison.Ordinal)) return;
            var address = Akka.Actor.Address.Parse(line.Split(' ')[1]);
            Address = $"{address.Host}:{address.Port}";
            UpAt = _now();
            _onUp(Address);
            _up.TrySetResult(Address);
        }

        public void WaitUp(TimeSpan timeout)
        {
            if (!_up.Task.Wait(timeout)) throw new TimeoutException($"{Name} did not come up within {timeout.TotalSeconds:0} s");
        }

        public void Kill()
        {
            Killed = true;
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            lock (_log) _log.Dispose();
        }
    }
}
