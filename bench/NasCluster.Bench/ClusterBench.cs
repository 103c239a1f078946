using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Akka.Actor;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Bench;

/// <summary>
/// The cluster's own costs (bench/README.md): trials per second through the whole path with zero-cost
/// work (standalone, and three processes on loopback), throughput with 1, 2 and 4 evaluator processes on a
/// fixed-cost work item, the resume time of a 10,000-trial experiment, and journal bytes per trial.
/// </summary>
public static class ClusterBench
{
    public static int Run(string[] args)
    {
        var what = args.FirstOrDefault() ?? "all";
        var trials = BenchArgs.Int(args, "--trials", 10_000);
        var dir = Directory.CreateTempSubdirectory("nas-bench-").FullName;
        try
        {
            if (what is "all" or "overhead") Overhead(dir, trials).GetAwaiter().GetResult();
            if (what is "all" or "processes") Processes(dir, trials).GetAwaiter().GetResult();
            if (what is "all" or "scaling") Scaling(dir, BenchArgs.Int(args, "--scaling-trials", 600), BenchArgs.Int(args, "--delay-ms", 20)).GetAwaiter().GetResult();
            if (what is "all" or "resume") Resume(dir, trials).GetAwaiter().GetResult();
            if (what is "all" or "slots")
                Slots(dir, BenchArgs.Int(args, "--slot-trials", 24), BenchArgs.Int(args, "--batch", 4), BenchArgs.Int(args, "--proxy-steps", 100)).GetAwaiter().GetResult();
            return 0;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Measured experiments use seed 1 and warm-ups seed 2 (any second run in one cluster its own seed), so that
    /// the evaluator entities an earlier run leaves behind do not already know the measured run's candidates.</summary>
    private static ExperimentSpec Spec(string name, int trials, int batch, bool asynchronous = false, int? seed = null) =>
        Spec(name, trials, batch, asynchronous ? SearchMode.Asynchronous : SearchMode.Synchronous, seed);

    private static ExperimentSpec Spec(string name, int trials, int batch, SearchMode mode, int? seed = null, string quality = "synthetic", int proxySteps = 300) =>
        ExperimentSpecs.Build(new SearchRequest
        {
            Name = name,
            Space = "mnv2-edgetpu-classification",
            Trials = trials,
            BatchSize = batch,
            Seed = seed ?? (name == "warm-up" ? 2 : 1),
            Quality = quality,
            ProxySteps = proxySteps,
            Mode = mode,
        });

    private static TrainerAgentSettings ZeroTrainer(int slots) =>
        new("bench", slots, new ProxyEnvironment(), "bench-weights") { Work = ZeroCostWork.Train };

    /// <summary>Runs an experiment to the end; returns its wall time.</summary>
    private static async Task<TimeSpan> RunExperiment(ClusterNode node, ExperimentSpec spec)
    {
        var channel = Channel.CreateUnbounded<ExperimentDone>();
        var watcher = node.System.ActorOf(Props.Create(() => new Watcher(channel.Writer)));
        var clock = Stopwatch.StartNew();
        var reply = await node.Registry.Ask<object>(new StartExperiment(spec), TimeSpan.FromSeconds(60));
        if (reply is not ExperimentAccepted) throw new InvalidOperationException($"not accepted: {reply}");
        node.Registry.Tell(new WatchExperiment(spec.Name), watcher);
        var done = await channel.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(30));
        var elapsed = clock.Elapsed;
        if (done.Completed + done.Failed != spec.Trials) throw new InvalidOperationException($"incomplete: {done}");
        return elapsed;
    }

    private sealed class Watcher : ReceiveActor
    {
        public Watcher(ChannelWriter<ExperimentDone> done)
        {
            Receive<ExperimentDone>(d => done.TryWrite(d));
            Receive<ExperimentProgress>(_ => { });
        }
    }

    private static async Task Overhead(string dir, int trials)
    {
        Console.WriteLine($"== coordinator overhead: zero-cost work, standalone (every role in one process, SQLite), {trials:N0} trials ==");
        Console.WriteLine($"{"batch",6} {"mode",12} {"wall s",8} {"trials/s",9} {"events/trial",13} {"journal B/trial",16} {"db file B/trial",16}");
        foreach (var (batch, asynchronous) in new[] { (10, false), (100, false), (100, true) })
        {
            var db = Path.Combine(dir, $"overhead-{batch}-{asynchronous}.db");
            await using var node = await ClusterNode.StartAsync(new NodeOptions { Db = db }, ZeroTrainer(batch), pricer: ZeroCostWork.Price);
            await RunExperiment(node, Spec("warm-up", 500, batch, asynchronous)); // JIT, connections
            var spec = Spec("overhead", trials, batch, asynchronous);
            var wall = await RunExperiment(node, spec);
            var stored = ExperimentStore.Load(node.Database, "overhead");
            var fileBytes = new FileInfo(db).Length + (File.Exists(db + "-wal") ? new FileInfo(db + "-wal").Length : 0);
            Console.WriteLine($"{batch,6} {(asynchronous ? "asynchronous" : "synchronous"),12} {wall.TotalSeconds,8:0.00} {trials / wall.TotalSeconds,9:0} " +
                              $"{stored.Events / (double)trials,13:0.00} {stored.JournalBytes / (double)trials,16:0} {fileBytes / (double)(trials + 500),16:0}");
        }
    }

    private static string Exe(string name) => Path.Combine(AppContext.BaseDirectory, name);

    private static Process StartProcess(string dll, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Exe(dll));
        foreach (var a in args) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        var up = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains(" is up with roles") == true) up.TrySetResult();
        };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        if (!up.Task.Wait(TimeSpan.FromSeconds(120))) throw new InvalidOperationException($"{dll} did not come up");
        return p;
    }

    /// <summary>SIGTERM (the nodes leave the cluster through coordinated shutdown), then SIGKILL after 30 s.</summary>
    private static void Stop(IEnumerable<Process> processes)
    {
        var running = processes.Where(p => !p.HasExited).ToList();
        foreach (var p in running) Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)]).WaitForExit();
        foreach (var p in running)
        {
            if (p.WaitForExit(TimeSpan.FromSeconds(30))) continue;
            try
            {
                p.Kill(true);
                p.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
    }

    private static async Task Processes(string dir, int trials)
    {
        Console.WriteLine();
        Console.WriteLine($"== coordinator overhead: zero-cost work, three processes on loopback (coordinator | evaluator | trainer), {trials:N0} trials ==");
        Console.WriteLine($"{"batch",6} {"wall s",8} {"trials/s",9}");
        foreach (var batch in new[] { 10, 100 })
        {
            var db = Path.Combine(dir, $"processes-{batch}.db");
            await using var coordinator = await ClusterNode.StartAsync(new NodeOptions { Roles = ["coordinator"], Db = db });
            var seed = $"{coordinator.Address.Host}:{coordinator.Address.Port}";
            var nodes = new List<Process>
            {
                StartProcess("nascluster-evaluator.dll", "--seed", seed, "--zero-cost"),
                StartProcess("nascluster-trainer.dll", "--seed", seed, "--zero-cost", "--slots", batch.ToString(CultureInfo.InvariantCulture)),
            };
            try
            {
                await RunExperiment(coordinator, Spec("warm-up", 500, batch));
                var wall = await RunExperiment(coordinator, Spec("processes", trials, batch));
                Console.WriteLine($"{batch,6} {wall.TotalSeconds,8:0.00} {trials / wall.TotalSeconds,9:0}");
            }
            finally
            {
                Stop(nodes);
            }
        }
    }

    /// <summary>Seeds of the measured runs per mode: each run in a cluster its own (see <see cref="Spec(string,int,int,bool,int?)"/>), the same across clusters.</summary>
    private static int SeedOf(SearchMode mode) => mode switch { SearchMode.Synchronous => 1, SearchMode.Asynchronous => 3, _ => 4 };

    private static readonly SearchMode[] AllModes = [SearchMode.Synchronous, SearchMode.Pipelined, SearchMode.Asynchronous];

    private static async Task Scaling(string dir, int trials, int delayMs)
    {
        Console.WriteLine();
        Console.WriteLine($"== throughput with N evaluator processes: every evaluation a fixed {delayMs} ms work item (one thread per process), " +
                          $"zero-cost training, {trials} trials, batches of 40 (pipelined: window 80) ==");
        Console.WriteLine("utilisation: evaluations priced × the work item / (wall × evaluators) — the share of evaluator time spent on work (a lower bound: pricing itself not counted)");
        Console.WriteLine($"{"evaluators",10} {"mode",12} {"wall s",8} {"trials/s",9} {"speed-up",9} {"ideal trials/s",15} {"utilisation",12} {"trajectory",11}");
        var one = new Dictionary<SearchMode, double>();
        var trajectories = new Dictionary<SearchMode, string>();
        foreach (var n in new[] { 1, 2, 4 })
        {
            var db = Path.Combine(dir, $"scaling-{n}.db");
            await using var coordinator = await ClusterNode.StartAsync(new NodeOptions { Roles = ["coordinator"], Db = db });
            var seed = $"{coordinator.Address.Host}:{coordinator.Address.Port}";
            var nodes = Enumerable.Range(0, n)
                .Select(_ => StartProcess("nascluster-evaluator.dll", "--seed", seed, "--threads", "1", "--work-delay-ms", delayMs.ToString(CultureInfo.InvariantCulture)))
                .Append(StartProcess("nascluster-trainer.dll", "--seed", seed, "--zero-cost", "--slots", "80"))
                .ToList();
            try
            {
                await RunExperiment(coordinator, Spec("warm-up", 80, 40));
                foreach (var mode in AllModes)
                {
                    var name = $"scaling-{Kinds.Name(mode)}";
                    var wall = await RunExperiment(coordinator, Spec(name, trials, 40, mode, seed: SeedOf(mode)));
                    var state = ExperimentStore.Load(coordinator.Database, name).State;
                    var priced = state.Trials.Count(t => t.ReusedFrom is null);
                    var utilisation = priced * delayMs / 1000.0 / (wall.TotalSeconds * n);
                    var trajectory = string.Join("|", state.Trials.Select(t => t.Hash)) + state.ControllerState;
                    var same = mode == SearchMode.Asynchronous ? "-" : n == 1 ? "reference" : trajectory == trajectories[mode] ? "same" : "DIFFERENT";
                    trajectories.TryAdd(mode, trajectory);
                    var rate = trials / wall.TotalSeconds;
                    one.TryAdd(mode, rate);
                    Console.WriteLine($"{n,10} {Kinds.Name(mode),12} {wall.TotalSeconds,8:0.00} {rate,9:0.0} {rate / one[mode],9:0.00} {n * 1000.0 / delayMs,15:0} " +
                                      $"{utilisation,12:P0} {same,11}");
                }
            }
            finally
            {
                Stop(nodes);
            }
        }
    }

    /// <summary>
    /// A proxy search (real distillation on Fashion-MNIST) with one trainer of two slots, standalone, in each
    /// mode: how busy the slots are. Utilisation is the trainings' wall seconds over (wall × slots), from
    /// the experiment's creation to its end (the teacher is trained or found before).
    /// </summary>
    private static async Task Slots(string dir, int trials, int batch, int steps)
    {
        Console.WriteLine();
        Console.WriteLine($"== proxy search, standalone, one trainer with 2 slots: {trials} trials of {steps} distillation steps, batches of {batch} (pipelined: window {2 * batch}) ==");
        var environment = new ProxyEnvironment();
        ProxyTrainer.Prepare(environment, log: Console.WriteLine);
        Console.WriteLine($"{"mode",12} {"wall s",8} {"trainings",10} {"busy slot-s",12} {"utilisation",12} {"mean training s",16}");
        var db = Path.Combine(dir, "slots.db");
        await using var node = await ClusterNode.StartAsync(new NodeOptions { Db = db }, new TrainerAgentSettings("bench", 2, environment, Path.Combine(dir, "weights")));
        foreach (var mode in AllModes)
        {
            var name = $"slots-{Kinds.Name(mode)}";
            await RunExperiment(node, Spec(name, trials, batch, mode, seed: SeedOf(mode), quality: "proxy", proxySteps: steps));
            var state = ExperimentStore.Load(node.Database, name).State;
            var wall = (state.FinishedUnixMs - state.CreatedUnixMs) / 1000.0;
            var trainings = state.Trials.Where(t => t.Quality is not null).Select(t => t.Quality!.WallSeconds).ToList();
            var busy = trainings.Sum();
            Console.WriteLine($"{Kinds.Name(mode),12} {wall,8:0.0} {trainings.Count,10} {busy,12:0.0} {busy / (wall * 2),12:P0} {trainings.Average(),16:0.00}");
        }
    }

    private static async Task Resume(string dir, int trials)
    {
        Console.WriteLine();
        Console.WriteLine($"== resume: an experiment of {trials:N0} trials, recovered by a fresh process-like node (SQLite) ==");
        var db = Path.Combine(dir, "resume.db");
        await using (var node = await ClusterNode.StartAsync(new NodeOptions { Db = db }, ZeroTrainer(100), pricer: ZeroCostWork.Price))
            await RunExperiment(node, Spec("big", trials, 100));

        var load = Stopwatch.StartNew();
        var stored = ExperimentStore.Load(NodeConfig.ParseDb(db), "big");
        load.Stop();
        Console.WriteLine($"journal: {stored.Events:N0} events, {stored.JournalBytes / 1024.0 / 1024.0:0.0} MiB, latest snapshot at event {stored.SnapshotSequenceNr:N0}");
        Console.WriteLine($"`status` (snapshot + later events, folded): {load.Elapsed.TotalMilliseconds:0} ms");

        await using var fresh = await ClusterNode.StartAsync(new NodeOptions { Db = db }, ZeroTrainer(100), pricer: ZeroCostWork.Price);
        var clock = Stopwatch.StartNew();
        var reply = await fresh.Registry.Ask<object>(new ResumeExperiment("big"), TimeSpan.FromSeconds(60));
        clock.Stop();
        if (reply is not ExperimentAccepted accepted || accepted.TrialsDone != trials) throw new InvalidOperationException($"resume: {reply}");
        Console.WriteLine($"resume (recovery of the experiment actor until it accepts): {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
