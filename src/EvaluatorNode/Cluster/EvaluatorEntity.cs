using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.EvaluationProtocol;

namespace NasCluster.EvaluatorNode.Cluster;

/// <summary>
/// The sharded evaluator entity <c>&lt;hardware&gt;/&lt;architecture hash&gt;</c>: prices its architecture
/// once (analytical model or tile simulator), answers every request with the same result, and keeps it
/// until idle passivation. A failure (an unmappable network) is remembered and answered the same way.
/// Runs on the node's evaluator dispatcher, so costing never starves the cluster's own actors.
/// </summary>
public sealed class EvaluatorEntity : ReceiveActor
{
    private CostSummary? _cost;
    private string? _failure;

    private static long _computed;

    /// <summary>How many architectures this node has priced (not answered from an entity's memory).</summary>
    public static long Computed => Interlocked.Read(ref _computed);

    public EvaluatorEntity(LayerCostCache cache, Func<Evaluate, CostSummary>? pricer = null)
    {
        var node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<Evaluate>(e =>
        {
            if (_cost is null && _failure is null)
            {
                try
                {
                    _cost = pricer is null ? Price(e, cache) : pricer(e);
                    Interlocked.Increment(ref _computed);
                }
                catch (NasInputException ex)
                {
                    _failure = ex.Message;
                }
            }
            Sender.Tell(_cost is not null
                ? new EvaluationResult(e.EntityId, e.Attempt, _cost, node, CostModel.Version)
                : new EvaluationFailed(e.EntityId, e.Attempt, _failure!));
        });
    }

    /// <param name="cache">The node's layer cost cache.</param>
    /// <param name="pricer">Replaces the cost model (benchmarks of the cluster's own overhead price work at zero cost).</param>
    public static Props Props(LayerCostCache cache, Func<Evaluate, CostSummary>? pricer = null) =>
        Akka.Actor.Props.Create(() => new EvaluatorEntity(cache, pricer)).WithDispatcher("evaluator-dispatcher");

    /// <summary>Prices an evaluation request with the cost model.</summary>
    /// <exception cref="NasInputException">The architecture or hardware is invalid, or the network does not map.</exception>
    public static CostSummary Price(Evaluate e, LayerCostCache cache)
    {
        var hw = e.HardwareJson is null ? HardwarePresets.Get(e.Hardware) : HardwareFile.Parse(e.HardwareJson, e.Hardware);
        var network = ArchJson.Read(e.ArchitectureJson);
        var r = CostModel.Estimate(network, hw, e.Fidelity, cache);
        return new CostSummary(r.LatencyMs, r.SimulatedMs, r.EnergyMj, r.PowerW, r.Utilization, r.Params, r.Macs, r.CachedWeightBytes, r.StreamedWeightBytes);
    }
}

/// <summary>Routes evaluation messages by entity id (about 100 shards: ten times the expected evaluator nodes).</summary>
public sealed class EvaluatorMessageExtractor() : HashCodeMessageExtractor(NumberOfShards)
{
    public override string? EntityId(object message) => (message as Shared.Protocol.IWithEntityId)?.EntityId;
}

/// <summary>Starts the evaluator shard region (on evaluator nodes) or its proxy (elsewhere).</summary>
public static class EvaluatorRegion
{
    public static Task<IActorRef> StartAsync(ActorSystem system, LayerCostCache? cache = null, Func<Evaluate, CostSummary>? pricer = null)
    {
        var sharding = ClusterSharding.Get(system);
        var settings = ClusterShardingSettings.Create(system).WithRole("evaluator");
        cache ??= LayerCostCache.Shared;
        return sharding.StartAsync(ShardTypeName, _ => EvaluatorEntity.Props(cache, pricer), settings, new EvaluatorMessageExtractor());
    }

    public static Task<IActorRef> StartProxyAsync(ActorSystem system) =>
        ClusterSharding.Get(system).StartProxyAsync(ShardTypeName, "evaluator", new EvaluatorMessageExtractor());
}
