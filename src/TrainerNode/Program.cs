using System.CommandLine;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;

// nascluster-trainer: a trainer node. Checks the dataset and trains (or finds) the cached teacher, joins a
// cluster through a seed node, and pulls proxy-training work for its slots until Ctrl+C or SIGTERM.
var root = new RootCommand("nascluster-trainer: a trainer node of a NasCluster cluster (scores candidates by knowledge-distillation proxies).");
var node = new NodeCommandLine().AddTo(root, withDb: false);
var slots = new Option<int?>("--slots") { Description = "Trainings at once (env NASCLUSTER_SLOTS; default 1)." };
var threads = new Option<int>("--threads") { Description = "libtorch threads (default: the cores divided among the slots).", DefaultValueFactory = _ => 0 };
var data = new Option<string?>("--data") { Description = $"Fashion-MNIST directory (default ${FashionMnist.EnvironmentVariable} or {FashionMnist.DefaultDirectory})." };
var cache = new Option<string?>("--cache-dir") { Description = "Teacher cache directory (default ~/.cache/nascluster/teachers)." };
var weights = new Option<string>("--weights-dir") { Description = "Where trained proxy weights are kept.", DefaultValueFactory = _ => "nascluster-weights" };
var id = new Option<string?>("--id") { Description = "This trainer's id in the cluster (default host-pid)." };
var skipTeacher = new Option<bool>("--skip-teacher") { Description = "Do not train the teacher at start-up (the first proxy training does; synthetic-only clusters never need it)." };
var delay = new Option<int>("--work-delay-ms") { Description = "Benchmarks and tests: wall time of a synthetic-quality work item.", DefaultValueFactory = _ => 0 };
var zero = new Option<bool>("--zero-cost") { Description = "Benchmarks: answer every assignment at no cost (no parsing, no training), to measure the cluster's own overhead." };
foreach (var o in new Option[] { slots, threads, data, cache, weights, id, skipTeacher, delay, zero }) root.Add(o);
return NodeMain.Run(root, args, async p =>
{
    var options = node.Read(p, ["trainer"]);
    if (options.Seeds.Count == 0) throw new NasInputException("a trainer node joins an existing cluster: give --seed HOST:PORT of a coordinator (or NASCLUSTER_SEEDS)");
    if (p.GetValue(slots) is { } s) options = options with { TrainerSlots = s };
    if (options.TrainerSlots < 1) throw new NasInputException($"--slots must be at least 1 (got {options.TrainerSlots})");
    var t = p.GetValue(threads);
    if (t < 0) throw new NasInputException($"--threads must be positive (got {t})");
    var environment = new ProxyEnvironment { DataDirectory = p.GetValue(data), TeacherCacheDirectory = p.GetValue(cache) };
    if (!p.GetValue(zero)) ProxyTrainer.Prepare(environment, distillation: !p.GetValue(skipTeacher), log: msg => Console.Error.WriteLine(msg));
    var extra = p.GetValue(delay);
    if (extra < 0) throw new NasInputException($"--work-delay-ms must not be negative (got {extra})");
    var agentId = p.GetValue(id) ?? $"{Environment.MachineName}-{Environment.ProcessId}";
    var settings = new TrainerAgentSettings(agentId, options.TrainerSlots, environment, p.GetValue(weights)!)
    {
        TorchThreads = t,
        SyntheticDelay = TimeSpan.FromMilliseconds(extra),
        Work = p.GetValue(zero) ? ZeroCostWork.Train : null,
    };
    var system = await NodeHost.StartAsync(options, joinTimeout: node.Timeout(p));
    TrainerAgents.Start(system, settings);
    NodeMain.AnnounceUp(system, options.Roles);
    return await NodeHost.RunUntilStoppedAsync(system, Console.Error);
});
