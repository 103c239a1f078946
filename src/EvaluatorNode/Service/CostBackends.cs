using System.Collections.Concurrent;
using Akka.Actor;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;

namespace NasCluster.EvaluatorNode.Service;

/// <summary>A priced network: the report and whether it was answered from a result already held.</summary>
public sealed record PricedNetwork(CostBreakdown Report, bool Cached, string SimulatorVersion);

/// <summary>The network cannot be priced on that hardware (it does not map): final, <c>INVALID_ARGUMENT</c> on the wire.</summary>
public sealed class UnpriceableException(string reason) : Exception(reason);

/// <summary>
/// Where the service's pricing happens: in this process (<c>nascluster serve</c>) or on the cluster's
/// evaluator entities (<c>serve --join</c>). Both answer the same report for the same request.
/// </summary>
public interface ICostBackend
{
    /// <summary>"in-process" or "cluster", for logs and health.</summary>
    string Mode { get; }

    /// <summary>Can price now (in the cluster: an evaluator node is up); the health service reports it.</summary>
    bool Healthy { get; }

    /// <exception cref="UnpriceableException">The network does not map onto the hardware.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> fired (the client's deadline or cancellation).</exception>
    Task<PricedNetwork> PriceAsync(PricingRequest request, CancellationToken cancel);
}

/// <summary>
/// Prices on this process's thread pool with the cost model, behind a result cache keyed by the same
/// entity ids the cluster uses. A cancelled request stops between layers, so nothing runs for a client
/// that is gone.
/// </summary>
public sealed class InProcessCostBackend(LayerCostCache? layers = null, int maxResults = 100_000) : ICostBackend
{
    private readonly LayerCostCache _layers = layers ?? LayerCostCache.Shared;
    private readonly ConcurrentDictionary<string, CostBreakdown> _results = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _failures = new(StringComparer.Ordinal);

    private long _stopped;
    private long _computed;

    public string Mode => "in-process";

    public bool Healthy => true;

    /// <summary>Computations given up, before they started or part-way, because their client's deadline passed or it cancelled.</summary>
    public long Stopped => Interlocked.Read(ref _stopped);

    /// <summary>Networks priced to the end (cache hits not counted).</summary>
    public long Computed => Interlocked.Read(ref _computed);

    public Task<PricedNetwork> PriceAsync(PricingRequest request, CancellationToken cancel)
    {
        var id = request.EntityId;
        if (_results.TryGetValue(id, out var known)) return Task.FromResult(Answer(known, request, cached: true));
        if (_failures.TryGetValue(id, out var failure)) throw new UnpriceableException(failure);
        // Analytical estimates take tens of microseconds: run them inline. The tile simulation can take
        // milliseconds or more: off the request's thread, cancellable. (Task.Run gets no token: Compute
        // checks it first, so a request given up before it starts is counted as stopped too.)
        return request.Fidelity == Fidelity.Analytical
            ? Task.FromResult(Compute(request, id, cancel))
            : Task.Run(() => Compute(request, id, cancel), CancellationToken.None);
    }

    private PricedNetwork Compute(PricingRequest request, string id, CancellationToken cancel)
    {
        CostReport report;
        try
        {
            cancel.ThrowIfCancellationRequested();
            report = CostModel.Estimate(request.Network, request.Hardware, request.Fidelity, _layers, cancel);
        }
        catch (NasCluster.Shared.Util.NasInputException e)
        {
            if (_failures.Count >= maxResults) _failures.Clear();
            _failures[id] = e.Message;
            throw new UnpriceableException(e.Message);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _stopped);
            throw;
        }
        Interlocked.Increment(ref _computed);
        var full = report.ToBreakdown();
        if (_results.Count >= maxResults) _results.Clear();
        _results[id] = full;
        return Answer(full, request, cached: false);
    }

    private static PricedNetwork Answer(CostBreakdown report, PricingRequest request, bool cached) =>
        new(request.Layers ? report : report with { Layers = [] }, cached, CostModel.Version);
}

/// <summary>
/// Prices on the cluster: an <see cref="EvaluateReport"/> to the evaluator shard region (through a proxy),
/// so the service and the searches share the entities <c>&lt;hardware fingerprint&gt;/&lt;hash&gt;</c> and adding
/// evaluator nodes adds throughput. The client's deadline bounds the ask.
/// </summary>
public sealed class ClusterCostBackend(ActorSystem system, IActorRef region, TimeSpan maxWait) : ICostBackend
{
    private long _requests;

    public string Mode => "cluster";

    public bool Healthy => Akka.Cluster.Cluster.Get(system).State.Members.Any(m => m.HasRole("evaluator") && m.Status == Akka.Cluster.MemberStatus.Up);

    public async Task<PricedNetwork> PriceAsync(PricingRequest request, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        var message = new EvaluateReport(request.EntityId, request.Hardware.Name, request.HardwareJson, ArchJson.Write(request.Network),
            request.Fidelity, request.Layers, Interlocked.Increment(ref _requests));
        object reply;
        try
        {
            reply = await region.Ask<object>(message, maxWait, cancel);
        }
        catch (AskTimeoutException)
        {
            throw new TimeoutException($"no evaluator answered within {maxWait.TotalSeconds:0} s (are evaluator nodes up?)");
        }
        return reply switch
        {
            EvaluationReport r => new PricedNetwork(r.Report, r.FromMemory, r.SimulatorVersion),
            ReportFailed f => throw new UnpriceableException(f.Reason),
            _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} from the evaluator region"),
        };
    }
}
