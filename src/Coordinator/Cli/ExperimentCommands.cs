using System.CommandLine;
using System.Globalization;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.Coordinator.Search;
using NasCluster.EvaluatorNode.Cluster;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Training;
using Spectre.Console;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// Experiments from the command line: <c>search</c>, <c>resume</c>, <c>status</c>, <c>list</c>, and the
/// long-running nodes (<c>coordinator</c>, <c>node</c>). Every command that reads an experiment takes the
/// same <c>--db</c>.
/// </summary>
internal static class ExperimentCommands
{
    private static readonly string[] AllRoles = ["coordinator", "evaluator", "trainer"];

    public static IEnumerable<Command> Build() => [Search(), Resume(), Status(), List(), Coordinator(), Node()];

    /// <summary>The options of the machinery that runs a search (shared by search, resume and demo).</summary>
    private sealed class RunOptions
    {
        public NodeCommandLine Node { get; } = new("--join");
        public Option<int> Slots { get; } = Options.Int("--slots", "Proxy trainings at once in this process (standalone).", 1);
        public Option<string?> Data { get; } = new("--data")
        {
            Description = $"The proxy's dataset: one folder of PNG/JPEG images per class, or Fashion-MNIST-style IDX files (default ${FashionMnist.EnvironmentVariable} " +
                          $"or {FashionMnist.DefaultDirectory}); for an nlp space, WordNet's directory (default ${Glosses.EnvironmentVariable} or {Glosses.DefaultDirectory}). " +
                          "search records it by content hash; resume takes it as where that same dataset is now.",
        };
        public Option<string?> CacheDir { get; } = new("--cache-dir") { Description = "Teacher cache directory (default ~/.cache/nascluster/teachers)." };
        public Option<string?> Weights { get; } = new("--weights-dir")
        {
            Description = "Where trained proxy weights are kept, for Pareto-optimal trials only (default: nascluster-weights beside a SQLite database, else in this directory).",
        };
        public Option<bool> Detach { get; } = new("--detach") { Description = "With --join: return once the cluster accepted the experiment." };
        public Option<bool> Json { get; } = new("--json") { Description = "End with the status document (as `status --json`) instead of tables." };

        public void AddTo(Command c)
        {
            Node.AddTo(c);
            foreach (var o in new Option[] { Slots, Data, CacheDir, Weights, Detach, Json }) c.Add(o);
        }

        public SessionOptions Read(ParseResult p)
        {
            var node = Node.Read(p, AllRoles);
            if (node.Seeds.Count > 0) node = node with { Roles = [] }; // a client of the cluster
            var slots = p.GetValue(Slots);
            if (slots < 1) throw new NasInputException($"--slots must be at least 1 (got {slots})");
            return new SessionOptions
            {
                Node = node with { TrainerSlots = slots },
                JoinTimeout = Node.Timeout(p),
                Slots = slots,
                // --data is the images' directory or, for an nlp experiment, WordNet's: the recorded task decides which is read.
                Proxy = new ProxyEnvironment { DataDirectory = p.GetValue(Data), TextDirectory = p.GetValue(Data), TeacherCacheDirectory = p.GetValue(CacheDir) },
                WeightsDirectory = p.GetValue(Weights) ?? DefaultWeightsDirectory(NodeConfig.ParseDb(node.Db)),
                Detach = p.GetValue(Detach),
                Json = p.GetValue(Json),
            };
        }
    }

    /// <summary>Proxy weights live beside the experiments' SQLite database, so they move with it (PostgreSQL: this directory).</summary>
    internal static string DefaultWeightsDirectory(DatabaseTarget db) => Path.Combine(db.LocalDirectory, "nascluster-weights");

    private static Command Search()
    {
        var c = new Command("search", "Run an architecture search: every role in this process by default (standalone, SQLite), or in a cluster with --join.");
        var space = new Option<string>("--space") { Description = "A search-space file or built-in name (`nascluster spaces list`).", Required = true };
        var name = new Option<string>("--name") { Description = "The experiment's name (letters, digits, '-', '_', '.'); `resume` and `status` use it.", Required = true };
        var controller = new Option<string>("--controller") { Description = $"Search controller: {string.Join(", ", Controllers.Kinds)}.", DefaultValueFactory = _ => "reinforce" };
        var trials = Options.Int("--trials", "Trials to run.", 50);
        var batch = Options.Int("--batch", "Trials per controller batch.", 10);
        var seed = Options.Long("--seed", "Seed of the controller (a seeded synchronous search follows one trajectory, however it is spread or resumed).", 0);
        var mode = new Option<string>("--mode")
        {
            Description = "synchronous (observe a whole batch, then propose the next: reproducible, slots idle in a batch's tail), " +
                          "pipelined (observe batches in trial order while a window of trials runs: reproducible and busy), " +
                          "asynchronous (observe results as they arrive: busy, not reproducible).",
            DefaultValueFactory = _ => Kinds.Name(SearchRequest.DefaultMode),
        };
        var window = new Option<int?>("--window") { Description = "Pipelined mode: trials in flight at most (at least --batch; default two batches)." };
        var async = new Option<bool>("--async") { Description = "Same as --mode asynchronous." };
        var hardware = new Option<string>("--hardware") { Description = "Hardware preset or JSON file (`nascluster hardware list`).", DefaultValueFactory = _ => HardwarePresets.Default };
        var fidelity = new Option<string>("--fidelity") { Description = "Cost model: analytical or detailed (tile simulator).", DefaultValueFactory = _ => "analytical" };
        var objective = new Option<string>("--objective") { Description = "Reward: mnas (soft latency target), tunas (absolute), hard (constraint), quality.", DefaultValueFactory = _ => "mnas" };
        var latency = new Option<double?>("--latency-target-ms") { Description = "Latency target T0 in ms (default 1.5)." };
        var energy = new Option<double?>("--energy-target-mj") { Description = "Energy target in mJ per inference (adds an energy term)." };
        var parameters = new Option<double?>("--params-target") { Description = "Parameter-count target (adds a size term)." };
        var quality = new Option<string>("--quality") { Description = "proxy (train a scaled-down candidate: classifiers by distillation on Fashion-MNIST or the dataset of --data, segmenters on scenes of its items) or synthetic (no training; for trying the machinery).", DefaultValueFactory = _ => "proxy" };
        var steps = Options.Int("--proxy-steps", "Training steps per proxy.", 300);
        var seeds = Options.Int("--proxy-seeds", "Proxy trainings per trial, each with its own seed and its own unit of work: the quality is their mean, with its standard error.", 1);
        var attempts = Options.Int("--max-attempts", "Attempts per trial's work before it counts as failed.", 3);
        var evalTimeout = Options.Int("--eval-timeout", "Seconds an evaluation may take before it is re-issued.", 30);
        var trainTimeout = Options.Int("--train-timeout", "Seconds a proxy training may take before it is re-issued.", 600);
        var run = new RunOptions();
        foreach (var o in new Option[] { space, name, controller, trials, batch, seed, mode, window, async, hardware, fidelity, objective, latency, energy, parameters, quality, steps, seeds, attempts, evalTimeout, trainTimeout })
            c.Add(o);
        run.AddTo(c);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var request = new SearchRequest
            {
                Name = p.GetValue(name)!,
                Space = p.GetValue(space)!,
                Controller = p.GetValue(controller)!,
                Trials = p.GetValue(trials),
                BatchSize = p.GetValue(batch),
                Seed = p.GetValue(seed),
                Mode = ModeOf(p.GetValue(mode)!, p.GetValue(async), p.GetResult(mode) is { Implicit: false }),
                Window = p.GetValue(window),
                Hardware = p.GetValue(hardware)!,
                Fidelity = p.GetValue(fidelity)!,
                Objective = p.GetValue(objective)!,
                LatencyTargetMs = p.GetValue(latency) ?? 1.5,
                EnergyTargetMj = p.GetValue(energy),
                ParamsTarget = p.GetValue(parameters),
                Quality = p.GetValue(quality)!,
                ProxySteps = p.GetValue(steps),
                ProxySeeds = p.GetValue(seeds),
                Data = p.GetValue(run.Data),
                MaxAttempts = p.GetValue(attempts),
                EvaluationTimeoutMs = Seconds(p.GetValue(evalTimeout), "--eval-timeout"),
                TrainingTimeoutMs = Seconds(p.GetValue(trainTimeout), "--train-timeout"),
            };
            var spec = ExperimentSpecs.Build(request);
            return SearchSession.Run(o, run.Read(p), new StartExperiment(spec), spec.Name);
        }));
        return c;
    }

    private static SearchMode ModeOf(string text, bool async, bool given)
    {
        if (!Kinds.TryParse<SearchMode>(text, out var m)) throw new NasInputException($"--mode must be one of {string.Join(", ", Kinds.Names<SearchMode>())} (got '{text}')");
        if (!async) return m;
        if (given && m != SearchMode.Asynchronous) throw new NasInputException($"--async contradicts --mode {text}");
        return SearchMode.Asynchronous;
    }

    private static int Seconds(int s, string option) =>
        s is >= 1 and <= 7 * 24 * 3600 ? s * 1000 : throw new NasInputException($"{option} must be 1 s to 7 days (got {s})");

    private static Command Resume()
    {
        var c = new Command("resume", "Continue an interrupted experiment where its journal left it (refused if its space, hardware or simulator changed; see --fork).");
        var name = new Argument<string>("EXPERIMENT") { Description = "The experiment's name." };
        var fork = new Option<string?>("--fork") { Description = "Continue as a new experiment NEW on today's space, hardware and simulator, from the old controller state." };
        var run = new RunOptions();
        c.Add(name);
        c.Add(fork);
        run.AddTo(c);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var experiment = p.GetValue(name)!;
            ExperimentSpecs.ValidateName(experiment);
            var forkAs = p.GetValue(fork);
            if (forkAs is not null) ExperimentSpecs.ValidateName(forkAs);
            var options = run.Read(p);
            if (forkAs is not null && options.Node.Roles.Contains("coordinator") && ExperimentStore.Exists(NodeConfig.ParseDb(options.Node.Db), forkAs))
                throw new NasInputException($"experiment '{forkAs}' already exists; choose another name for the fork");
            return SearchSession.Run(o, options, new ResumeExperiment(experiment, forkAs), experiment);
        }));
        return c;
    }

    internal static Option<string> DbOption() => new("--db")
    {
        Description = $"Experiment database: a SQLite file or postgres://user@host:port/database, the password in NASCLUSTER_DB_PASSWORD, NASCLUSTER_DB_PASSWORD_FILE or ~/.pgpass (default {NodeConfig.DefaultDb}; env NASCLUSTER_DB).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("NASCLUSTER_DB") is { Length: > 0 } env ? env : NodeConfig.DefaultDb,
    };

    private static Command Status()
    {
        var c = new Command("status", "How an experiment stands (running, finished or interrupted), its best and Pareto-optimal trials; safe while it runs.");
        var name = new Argument<string>("EXPERIMENT") { Description = "The experiment's name." };
        var db = DbOption();
        var json = new Option<bool>("--json") { Description = "Print the status document with every trial (name, state, trials_completed, trials_failed, trials_in_flight, best, trials, ...)." };
        var top = Options.Int("--top", "Rows of the best-trials table.", 10);
        c.Add(name);
        c.Add(db);
        c.Add(json);
        c.Add(top);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var experiment = p.GetValue(name)!;
            ExperimentSpecs.ValidateName(experiment);
            var x = ExperimentStore.Load(NodeConfig.ParseDb(p.GetValue(db)!), experiment);
            if (p.GetValue(json)) o.Json(w => ExperimentReport.WriteJson(w, x));
            else ExperimentReport.WriteText(o, x, Math.Max(1, p.GetValue(top)));
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command List()
    {
        var c = new Command("list", "The experiments in a database, with how each stands.");
        var db = DbOption();
        var json = new Option<bool>("--json") { Description = "One JSON object per experiment (the status document without trials)." };
        c.Add(db);
        c.Add(json);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var target = NodeConfig.ParseDb(p.GetValue(db)!);
            var names = ExperimentStore.Names(target);
            var all = names.Select(n => ExperimentStore.Load(target, n)).ToList();
            if (p.GetValue(json))
            {
                foreach (var x in all) o.Json(w => ExperimentReport.WriteJson(w, x, trials: false), indented: false);
                return ExitCodes.Ok;
            }
            if (all.Count == 0)
            {
                o.Out.WriteLine($"no experiments in {target.Display}");
                return ExitCodes.Ok;
            }
            var table = new Table().Border(TableBorder.Simple).AddColumns("experiment", "state", "space", "controller", "done", "failed", "target", "best reward", "created");
            foreach (var x in all)
            {
                var t = x.State.Tally();
                table.AddRow(Markup.Escape(x.Name), ExperimentReport.ConditionName(x.Condition), Markup.Escape(Path.GetFileName(x.State.Spec.SpaceSource)),
                    Kinds.Name(x.State.Spec.Controller), t.Completed.ToString(CultureInfo.InvariantCulture), t.Failed.ToString(CultureInfo.InvariantCulture),
                    x.State.Spec.Trials.ToString(CultureInfo.InvariantCulture), t.BestReward is { } b ? $"{b:0.0000}" : "-",
                    DateTimeOffset.FromUnixTimeMilliseconds(x.State.CreatedUnixMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture));
            }
            o.Console.Write(table);
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command Coordinator()
    {
        var c = new Command("coordinator", "Run a coordinator node (experiment registry and experiments) until Ctrl+C; the first node of a cluster needs no --seed.");
        var node = new NodeCommandLine().AddTo(c);
        c.SetAction(p => CliApp.Guard(p, o => RunNode(o, node.Read(p, ["coordinator"]), node.Timeout(p), null)));
        return c;
    }

    private static Command Node()
    {
        var c = new Command("node", "Run a node with any roles (coordinator, evaluator, trainer) until Ctrl+C.");
        var roles = new Option<string>("--roles") { Description = "Comma-separated roles (env NASCLUSTER_ROLES).", DefaultValueFactory = _ => "coordinator,evaluator,trainer" };
        var slots = Options.Int("--slots", "Trainer: proxy trainings at once (env NASCLUSTER_SLOTS).", 1);
        var data = new Option<string?>("--data")
        {
            Description = $"Trainer: where this node keeps its dataset (default ${FashionMnist.EnvironmentVariable} or {FashionMnist.DefaultDirectory}); " +
                          "an experiment's own dataset is looked for where it was recorded, then here, and used only if its content hash matches.",
        };
        var weights = new Option<string>("--weights-dir") { Description = "Trainer: where trained proxy weights are kept.", DefaultValueFactory = _ => "nascluster-weights" };
        c.Add(roles);
        c.Add(slots);
        c.Add(data);
        c.Add(weights);
        var node = new NodeCommandLine().AddTo(c);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var list = p.GetResult(roles) is null && Environment.GetEnvironmentVariable("NASCLUSTER_ROLES") is { Length: > 0 } env
                ? NodeConfig.ParseRoles(env)
                : NodeConfig.ParseRoles(p.GetValue(roles)!);
            if (list.Count == 0) throw new NasInputException("--roles needs at least one of coordinator, evaluator, trainer");
            var options = node.Read(p, list);
            if (p.GetResult(slots) is not null) options = options with { TrainerSlots = p.GetValue(slots) };
            if (options.TrainerSlots < 1) throw new NasInputException($"--slots must be at least 1 (got {options.TrainerSlots})");
            TrainerNode.Worker.TrainerAgentSettings? trainer = null;
            if (list.Contains("trainer"))
            {
                var environment = new ProxyEnvironment { DataDirectory = p.GetValue(data) };
                ProxyTrainer.Prepare(environment, log: msg => o.Err.WriteLine(msg));
                trainer = new TrainerNode.Worker.TrainerAgentSettings($"{Environment.MachineName}-{Environment.ProcessId}", options.TrainerSlots, environment, p.GetValue(weights)!);
            }
            return RunNode(o, options, node.Timeout(p), trainer);
        }));
        return c;
    }

    private static int RunNode(CliOutput o, NodeOptions options, TimeSpan joinTimeout, TrainerNode.Worker.TrainerAgentSettings? trainer)
    {
        return Task.Run(async () =>
        {
            var node = await ClusterNode.StartAsync(options, trainer, joinTimeout: joinTimeout);
            o.Err.WriteLine($"node {node.Address} is up with roles [{string.Join(", ", options.Roles)}]" +
                            (options.Roles.Contains("coordinator") ? $", database {node.Database.Display}" : "") +
                            (options.JoinsItself ? " (a new cluster: other nodes join with --seed " + $"{node.Address.Host}:{node.Address.Port})" : ""));
            return await NodeHost.RunUntilStoppedAsync(node.System, o.Err);
        }).GetAwaiter().GetResult();
    }
}
