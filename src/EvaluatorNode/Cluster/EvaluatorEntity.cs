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
/// The sharded evaluator entity <c>&lt;hardware fingerprint&gt;/&lt;architecture hash&gt;</c>: prices its
/// architecture once (analytical model or tile simulator), answers every request with the same result —
/// the summary to searches (<see cref="Evaluate"/>), the whole report to the cost service
/// (<see cref="EvaluateReport"/>) — and keeps it until idle passivation. A failure (an unmappable network)
/// is remembered and answered the same way. Runs on the node's evaluator dispatcher, so costing never
/// starves the cluster's own actors.
/// </summary>
public sealed class EvaluatorEntity : ReceiveActor
{
    private CostBreakdown? _report;
    private string? _failure;

    private static long _computed;

    /// <summary>How many architectures this node has priced (not answered from an entity's memory).</summary>
    public static long Computed => Interlocked.Read(ref _computed);

    public EvaluatorEntity(LayerCostCache cache, Func<Evaluate, CostSummary>? pricer = null)
    {
        var node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<Evaluate>(e =>
        {
            PriceOnce(() => pricer is null ? Report(e.Hardware, e.HardwareJson, e.ArchitectureJson, e.Fidelity, cache) : FromSummary(e, pricer(e)));
            Sender.Tell(_report is not null
                ? new EvaluationResult(e.EntityId, e.Attempt, _report.Summary, node, CostModel.Version)
                : new EvaluationFailed(e.EntityId, e.Attempt, _failure!));
        });
        Receive<EvaluateReport>(e =>
        {
            var known = _report is not null;
            PriceOnce(() => Report(e.Hardware, e.HardwareJson, e.ArchitectureJson, e.Fidelity, cache));
            Sender.Tell(_report is not null
                ? new EvaluationReport(e.EntityId, e.RequestId, e.Layers ? _report : _report with { Layers = [] }, known, node, CostModel.Version)
                : new ReportFailed(e.EntityId, e.RequestId, _failure!));
        });
    }

    private void PriceOnce(Func<CostBreakdown> price)
    {
        if (_report is not null || _failure is not null) return;
        try
        {
            _report = price();
            Interlocked.Increment(ref _computed);
        }
        catch (NasInputException ex)
        {
            _failure = ex.Message;
        }
    }

    /// <param name="cache">The node's layer cost cache.</param>
    /// <param name="pricer">Replaces the cost model for searches (benchmarks of the cluster's own overhead price work at zero cost).</param>
    public static Props Props(LayerCostCache cache, Func<Evaluate, CostSummary>? pricer = null) =>
        Akka.Actor.Props.Create(() => new EvaluatorEntity(cache, pricer)).WithDispatcher("evaluator-dispatcher");

    /// <summary>Prices an evaluation request with the cost model.</summary>
    /// <exception cref="NasInputException">The architecture or hardware is invalid, or the network does not map.</exception>
    public static CostSummary Price(Evaluate e, LayerCostCache cache) => Report(e.Hardware, e.HardwareJson, e.ArchitectureJson, e.Fidelity, cache).Summary;

    private static CostBreakdown Report(string hardware, string? hardwareJson, string architectureJson, Fidelity fidelity, LayerCostCache cache)
    {
        var hw = hardwareJson is null ? HardwarePresets.Get(hardware) : HardwareFile.Parse(hardwareJson, hardware);
        var network = ArchJson.Read(architectureJson);
        return CostModel.Estimate(network, hw, fidelity, cache).ToBreakdown();
    }

    private static CostBreakdown FromSummary(Evaluate e, CostSummary c) =>
        new(e.Hardware, e.Fidelity, c.LatencyMs, c.SimulatedMs, 0, c.EnergyMj, c.PowerW, c.Utilization, c.Params, c.Macs,
            c.CachedWeightBytes, c.StreamedWeightBytes, 0, []);
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
