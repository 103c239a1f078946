using System.Diagnostics;
using System.Threading.Channels;
using Akka.Actor;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using Spectre.Console;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Cli;

/// <summary>How `search`, `resume` and `demo` run an experiment.</summary>
internal sealed record SessionOptions
{
    public required NodeOptions Node { get; init; }
    public TimeSpan JoinTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public int Slots { get; init; } = 1;
    public ProxyEnvironment Proxy { get; init; } = new();
    public string WeightsDirectory { get; init; } = "nascluster-weights";

    /// <summary>Return once the cluster accepted the experiment (cluster mode only).</summary>
    public bool Detach { get; init; }

    public bool Json { get; init; }
}

/// <summary>
/// Runs one experiment from the command line: a standalone node holding every role (the default), or a
/// client that joins a running cluster (<c>--join</c>); sends the start or resume; shows live progress until
/// the experiment is done; ends with its summary. Ctrl+C leaves gracefully: in standalone mode the experiment
/// is interrupted and <c>resume</c> continues it; as a client the search goes on in the cluster.
/// </summary>
internal static class SearchSession
{
    public const int Interrupted = 130;

    /// <summary>Relays an experiment's progress to the command's thread.</summary>
    private sealed class Relay : ReceiveActor
    {
        public Relay(ChannelWriter<object> channel)
        {
            Receive<ExperimentProgress>(p => channel.TryWrite(p));
            Receive<ExperimentDone>(d => channel.TryWrite(d));
            Receive<ExperimentRefused>(r => channel.TryWrite(r));
            Receive<ExperimentHalted>(h => channel.TryWrite(h));
        }
    }

    public static int Run(CliOutput o, SessionOptions options, object command, string name, CancellationToken cancel = default)
    {
        var standalone = options.Node.Roles.Contains("coordinator");
        var db = NodeConfig.ParseDb(options.Node.Db);
        if (standalone) PreflightStandalone(o, options, command, name, db);

        using var interrupt = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, interrupt.Token);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return RunAsync(o, options, command, name, standalone, db, linked.Token).GetAwaiter().GetResult();
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Checks that need no cluster: the name, the database, the dataset and teacher of the proxy.</summary>
    private static void PreflightStandalone(CliOutput o, SessionOptions options, object command, string name, DatabaseTarget db)
    {
        Database.Prepare(db, create: command is StartExperiment);
        switch (command)
        {
            case StartExperiment start when ExperimentStore.Exists(db, name):
                throw new NasInputException($"experiment '{name}' already exists; continue it with `nascluster resume {name}{DbHint(db)}`" +
                                            " (or choose another --name)");
            case ResumeExperiment when !ExperimentStore.Exists(db, name):
                throw new NasInputException($"unknown experiment '{name}' (see `nascluster list`)", db.Display);
        }
        var spec = command switch
        {
            StartExperiment s => s.Spec,
            _ => ExperimentStore.Load(db, name).State.Spec,
        };
        // The experiment's dataset present (by content hash; --data may say where it is now); its teacher trained once and cached.
        if (spec.QualityMode == QualityMode.Proxy)
            ProxyTrainer.Prepare(options.Proxy, log: msg => o.Err.WriteLine(msg), training: spec.Training);
    }

    private static async Task<int> RunAsync(CliOutput o, SessionOptions options, object command, string name, bool standalone, DatabaseTarget db,
        CancellationToken cancel)
    {
        var trainer = options.Node.Roles.Contains("trainer")
            ? new TrainerAgentSettings($"{Environment.MachineName}-{Environment.ProcessId}", options.Slots, options.Proxy, options.WeightsDirectory)
            : null;
        var clock = Stopwatch.StartNew();
        // A standalone search's registry keeps no record of running experiments: one that is interrupted waits for `resume`.
        await using var node = await ClusterNode.StartAsync(options.Node, trainer, standalone ? "nascluster.registry.remember-running = off" : null,
            joinTimeout: options.JoinTimeout);
        if (!standalone) o.Err.WriteLine($"joined the cluster at {string.Join(", ", options.Node.Seeds)} as {node.Address}");

        var reply = await AskRegistry(node, command, TimeSpan.FromSeconds(30), cancel);
        switch (reply)
        {
            case ExperimentRefused refused:
                throw new NasInputException(refused.Reason);
            case ExperimentAccepted accepted when command is ResumeExperiment { ForkAs: { } fork }:
                o.Err.WriteLine($"forked '{name}' as '{fork}'");
                name = fork;
                break;
            case ExperimentAccepted { Resumed: true } accepted:
                o.Err.WriteLine($"resuming '{name}': {accepted.TrialsDone} trials already accounted for");
                break;
        }
        if (options.Detach && !standalone)
        {
            o.Out.WriteLine($"experiment '{name}' is running in the cluster; follow it with `nascluster status {name}`");
            return ExitCodes.Ok;
        }

        var channel = Channel.CreateUnbounded<object>();
        var relay = node.System.ActorOf(Props.Create(() => new Relay(channel.Writer)));
        var progress = new ProgressView(o, name);
        ExperimentDone? done = null;
        var lastWatch = TimeSpan.Zero;
        while (done is null)
        {
            // Watch again now and then: a coordinator that moved or restarted has forgotten its watchers.
            if (clock.Elapsed - lastWatch > TimeSpan.FromSeconds(5) || lastWatch == TimeSpan.Zero)
            {
                node.Registry.Tell(new WatchExperiment(name), relay);
                lastWatch = clock.Elapsed;
            }
            object message;
            try
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                wait.CancelAfter(TimeSpan.FromSeconds(5));
                message = await channel.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                continue;
            }
            catch (OperationCanceledException)
            {
                progress.Finish();
                o.Err.WriteLine(standalone
                    ? $"interrupted; the experiment is saved: continue it with `nascluster resume {name}`{DbHint(db)}"
                    : $"detached; the search goes on in the cluster: `nascluster status {name} --db DB` (the coordinator's database)");
                return Interrupted;
            }
            switch (message)
            {
                case ExperimentProgress p:
                    progress.Update(p);
                    break;
                case ExperimentDone d:
                    done = d;
                    break;
                case ExperimentRefused r:
                    throw new NasInputException(r.Reason);
                case ExperimentHalted h:
                    progress.Finish();
                    throw new NasInputException($"experiment '{name}' halted: {h.Reason}");
            }
        }
        progress.Finish();

        StoredExperiment result;
        if (standalone) result = ExperimentStore.Load(db, name);
        else
        {
            var state = await node.Registry.Ask<ExperimentStateReply>(new GetExperimentState(name), TimeSpan.FromSeconds(30), cancel);
            result = new StoredExperiment(name, ExperimentSnapshotCodec.FromSnapshot(state.Snapshot!), ExperimentCondition.Finished, 0, 0, null);
        }
        if (options.Json) o.Json(w => ExperimentReport.WriteJson(w, result, trials: true));
        else
        {
            ExperimentReport.WriteText(o, result);
            o.Out.WriteLine(standalone
                ? $"done in {clock.Elapsed.TotalSeconds:0.0} s. `nascluster status {name}{DbHint(db)} --json` prints every trial."
                : $"done in {clock.Elapsed.TotalSeconds:0.0} s. `nascluster status {name} --db DB --json`, DB the coordinator's database, prints every trial.");
        }
        if (standalone) WriteReport(o, db, result);
        else o.Err.WriteLine($"the report: `nascluster report {result.Name} --db DB` where the coordinator's database is readable");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Every search ends with something to open: the HTML report beside the database. The search itself
    /// has succeeded by now, so a report that cannot be written is a warning with the command to retry, not a failure.
    /// </summary>
    private static void WriteReport(CliOutput o, DatabaseTarget db, StoredExperiment result)
    {
        var name = result.Name;
        var path = Analysis.ReportFiles.DefaultHtmlPath(db, [name]);
        try
        {
            Analysis.ReportFiles.WriteHtml(path, Analysis.ReportPage.Document([Analysis.ReportFiles.Analyse(db, result)]));
            o.Err.WriteLine($"report: {path}");
        }
        catch (NasInputException e)
        {
            o.Err.WriteLine($"warning: the report was not written ({e.Message}); `nascluster report {name}{DbHint(db)} --out FILE` writes it elsewhere");
        }
    }

    /// <summary>" --db X" for commands the user runs next, empty for the default database.</summary>
    internal static string DbHint(DatabaseTarget db) =>
        db.IsSqlite && db.SqlitePath == Path.GetFullPath(NodeConfig.DefaultDb) ? "" : $" --db {db.Display}";

    /// <summary>Asks the registry, retrying while its singleton is still being located.</summary>
    private static async Task<object> AskRegistry(ClusterNode node, object command, TimeSpan timeout, CancellationToken cancel)
    {
        try
        {
            return await node.Registry.Ask<object>(command, timeout, cancel);
        }
        catch (AskTimeoutException)
        {
            throw new NasInputException($"no answer from the experiment registry within {timeout.TotalSeconds:0} s (is a coordinator node in the cluster?)");
        }
    }

    /// <summary>
    /// Live progress: a redrawn panel on a terminal; elsewhere (pipes, logs, CI) one line at most every
    /// two seconds, and every line when something failed.
    /// </summary>
    private sealed class ProgressView(CliOutput o, string name)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly bool _terminal = !Console.IsErrorRedirected && ReferenceEquals(o.Err, Console.Error);
        private int? _startDone;
        private TimeSpan? _lastLine;
        private ExperimentProgress? _last;
        private int _lastFailed;

        public void Update(ExperimentProgress p)
        {
            var accounted = p.Completed + p.Failed;
            _startDone ??= accounted;
            var changedFailures = p.Failed != _lastFailed;
            _last = p;
            _lastFailed = p.Failed;
            var interval = _terminal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(2);
            if (!changedFailures && _lastLine is { } last && _clock.Elapsed - last < interval && accounted < p.Target) return;
            _lastLine = _clock.Elapsed;
            var line = Line(p);
            if (_terminal) o.Err.Write($"\r\u001b[2K{line}");
            else o.Err.WriteLine(line);
        }

        public void Finish()
        {
            if (_last is not null && _terminal) o.Err.WriteLine();
        }

        private string Line(ExperimentProgress p)
        {
            var accounted = p.Completed + p.Failed;
            var rate = (accounted - (_startDone ?? 0)) / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
            var eta = rate > 0 ? TimeSpan.FromSeconds((p.Target - accounted) / rate) : (TimeSpan?)null;
            var best = p.BestReward is { } b ? $"{b:0.0000}" : "-";
            var speed = rate >= 1 ? $"{rate:0.0} trials/s" : $"{rate * 60:0.0} trials/min";
            return $"{name}: {accounted}/{p.Target} done ({p.Failed} failed), {p.InFlight} in flight | best reward {best} | Pareto {p.ParetoSize} | " +
                   $"{speed} | ETA {(eta is { } e ? Format.Duration(e) : "-")}";
        }
    }
}
