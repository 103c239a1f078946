using System.CommandLine;
using NasCluster.EvaluatorNode.Cluster;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

// nascluster-evaluator: an evaluator node. Joins a cluster through a seed node and hosts evaluator shards
// (latency and energy of architectures on the simulated Edge TPU) until Ctrl+C or SIGTERM, then hands its
// shards off and leaves.
var root = new RootCommand("nascluster-evaluator: an evaluator node of a NasCluster cluster (prices architectures on the simulated Edge TPU).");
var node = new NodeCommandLine().AddTo(root, withDb: false);
var threads = new Option<int>("--threads") { Description = "Threads of the evaluator dispatcher (default: the machine's cores).", DefaultValueFactory = _ => 0 };
var delay = new Option<int>("--work-delay-ms") { Description = "Benchmarks and tests: add this much wall time to every evaluation (a fixed-cost work item).", DefaultValueFactory = _ => 0 };
var zero = new Option<bool>("--zero-cost") { Description = "Benchmarks: answer every evaluation at no cost (no pricing), to measure the cluster's own overhead." };
root.Add(threads);
root.Add(delay);
root.Add(zero);
return NodeMain.Run(root, args, async p =>
{
    var options = node.Read(p, ["evaluator"]);
    if (options.Seeds.Count == 0) throw new NasInputException("an evaluator node joins an existing cluster: give --seed HOST:PORT of a coordinator (or NASCLUSTER_SEEDS)");
    var t = p.GetValue(threads);
    if (t < 0) throw new NasInputException($"--threads must be positive (got {t})");
    if (t > 0) options = options with { EvaluatorThreads = t };
    var extra = p.GetValue(delay);
    if (extra < 0) throw new NasInputException($"--work-delay-ms must not be negative (got {extra})");
    Func<NasCluster.Shared.Protocol.EvaluationProtocol.Evaluate, NasCluster.Shared.Protocol.EvaluationProtocol.CostSummary>? pricer =
        p.GetValue(zero) ? ZeroCostWork.Price
        : extra == 0 ? null
        : e =>
        {
            Thread.Sleep(extra); // holds the dispatcher thread, as a slow cost model would
            return EvaluatorEntity.Price(e, NasCluster.EvaluatorNode.Cost.LayerCostCache.Shared);
        };
    var system = await NodeHost.StartAsync(options, joinTimeout: node.Timeout(p));
    await EvaluatorRegion.StartAsync(system, pricer: pricer);
    NodeMain.AnnounceUp(system, options.Roles);
    return await NodeHost.RunUntilStoppedAsync(system, Console.Error);
});
