using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Pattern;
using NasCluster.Coordinator.Experiments;
using NasCluster.EvaluatorNode.Cluster;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Worker;

namespace NasCluster.Coordinator.Hosting;

/// <summary>
/// A running NasCluster node: an ActorSystem that has joined the cluster, with what its roles host —
/// the evaluator shard region (evaluator) or its proxy, the experiment registry singleton (coordinator),
/// a trainer agent (trainer) — and the registry's proxy everywhere. Standalone holds every role and joins
/// itself. Leaving is graceful (coordinated shutdown: shards hand off, the singleton moves).
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    private ClusterNode(ActorSystem system, IActorRef registry, IActorRef evaluators, IActorRef? trainer, DatabaseTarget db)
    {
        System = system;
        Registry = registry;
        Evaluators = evaluators;
        Trainer = trainer;
        Database = db;
    }

    public ActorSystem System { get; }

    /// <summary>The experiment registry (through the singleton proxy).</summary>
    public IActorRef Registry { get; }

    public IActorRef Evaluators { get; }

    public IActorRef? Trainer { get; }

    public DatabaseTarget Database { get; }

    public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;

    /// <exception cref="NasInputException">Unreachable or locked database, or the cluster could not be joined.</exception>
    public static async Task<ClusterNode> StartAsync(NodeOptions options, TrainerAgentSettings? trainer = null, string? extraHocon = null,
        TimeSpan? joinTimeout = null, LayerCostCache? costCache = null, Func<EvaluationProtocol.Evaluate, EvaluationProtocol.CostSummary>? pricer = null)
    {
        var db = NodeConfig.ParseDb(options.Db);
        var roles = options.Roles;
        if (roles.Contains("coordinator")) Hosting.Database.Prepare(db);
        var system = await NodeHost.StartAsync(options, extraHocon, joinTimeout);
        try
        {
            var evaluators = roles.Contains("evaluator")
                ? await EvaluatorRegion.StartAsync(system, costCache, pricer)
                : await EvaluatorRegion.StartProxyAsync(system);
            if (roles.Contains("coordinator"))
            {
                // Behind a back-off supervisor: a persistent registry stops when the database fails a write or a
                // recovery, and a singleton that stops is not started again by its manager.
                var remember = system.Settings.Config.GetBoolean("nascluster.registry.remember-running", false);
                var supervised = BackoffSupervisor.Props(Backoff.OnStop(ExperimentRegistry.Props(evaluators, db, remember), "registry",
                    TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 0.2, maxNrOfRetries: -1));
                system.ActorOf(ClusterSingletonManager.Props(supervised, PoisonPill.Instance,
                    ClusterSingletonManagerSettings.Create(system).WithRole("coordinator")), ExperimentProtocol.RegistryName);
            }
            var registry = NodeHost.RegistryProxy(system);
            IActorRef? agent = null;
            if (roles.Contains("trainer") && trainer is not null)
                agent = TrainerAgents.Start(system, trainer, registry);
            return new ClusterNode(system, registry, evaluators, agent, db);
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    /// <summary>Leaves the cluster gracefully and stops the ActorSystem.</summary>
    public async Task LeaveAsync() => await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);

    public async ValueTask DisposeAsync()
    {
        if (!System.WhenTerminated.IsCompleted) await LeaveAsync();
        await System.WhenTerminated;
    }
}
