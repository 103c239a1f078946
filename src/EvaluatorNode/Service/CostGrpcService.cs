using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using Wire = NasCluster.Cost.V1;

namespace NasCluster.EvaluatorNode.Service;

/// <summary>
/// The <c>nascluster.cost.v1.CostService</c> endpoints: decode, price through the backend, encode. Every
/// failure a client can cause becomes a status that names it (INVALID_ARGUMENT with the field,
/// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED); in a batch or a stream it becomes that item's error only.
/// </summary>
[BindServiceMethod(typeof(SafeCostServiceBinding), nameof(SafeCostServiceBinding.BindService))]
public sealed partial class CostGrpcService(ICostBackend backend, PricingRequestDecoder decoder, CostServiceLimits limits, ILogger<CostGrpcService> log)
    : CostService.CostServiceBase
{
    public override Task<Capabilities> GetCapabilities(GetCapabilitiesRequest request, ServerCallContext context)
    {
        var c = new Capabilities
        {
            SimulatorVersion = CostModel.Version,
            DefaultHardware = HardwarePresets.Default,
            MaxRequestBytes = limits.MaxRequestBytes,
            MaxBatchItems = limits.MaxBatchItems,
        };
        foreach (var h in HardwarePresets.Presets)
        {
            c.Hardware.Add(new HardwarePreset
            {
                Name = h.Name,
                Fingerprint = HardwareFingerprint.Of(h),
                Description = h.Description,
                PeakTops = h.PeakTops,
                Calibrated = h.CalibrationSlope != 1.0 || h.CalibrationInterceptMs != 0,
            });
        }
        c.Ops.AddRange(OpNames.All);
        c.OnnxOps.AddRange(OnnxImporter.SupportedOps);
        c.BuiltInSpaces.AddRange(BuiltInSpaces.Names);
        c.Fidelities.Add(Wire.Fidelity.Analytical);
        c.Fidelities.Add(Wire.Fidelity.Detailed);
        return Task.FromResult(c);
    }

    public override async Task<EvaluateResponse> Evaluate(EvaluateRequest request, ServerCallContext context)
    {
        try
        {
            return new EvaluateResponse { Result = await Price(request, "", context.CancellationToken) };
        }
        catch (Exception e) when (Status(e, context) is { } status)
        {
            throw new RpcException(status);
        }
    }

    public override async Task<EvaluateBatchResponse> EvaluateBatch(EvaluateBatchRequest request, ServerCallContext context)
    {
        if (request.Items.Count > limits.MaxBatchItems)
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"items: {request.Items.Count} items; the limit is {limits.MaxBatchItems} per batch (Capabilities.max_batch_items)"));
        var items = new Task<ItemResult>[request.Items.Count];
        for (var i = 0; i < items.Length; i++) items[i] = Item(request.Items[i], $"items[{i}].", context);
        var response = new EvaluateBatchResponse();
        response.Items.AddRange(await Task.WhenAll(items));
        if (context.CancellationToken.IsCancellationRequested) throw new RpcException(Status(new OperationCanceledException(), context)!.Value);
        return response;
    }

    public override async Task EvaluateStream(IAsyncStreamReader<EvaluateStreamRequest> requestStream, IServerStreamWriter<EvaluateStreamResponse> responseStream,
        ServerCallContext context)
    {
        var cancel = context.CancellationToken;
        // One writer: gRPC allows one write at a time, and answers go out as each item finishes.
        var answers = Channel.CreateBounded<EvaluateStreamResponse>(new BoundedChannelOptions(limits.MaxInFlightPerStream) { SingleReader = true });
        var writer = Task.Run(async () =>
        {
            await foreach (var a in answers.Reader.ReadAllAsync(cancel)) await responseStream.WriteAsync(a, cancel);
        }, cancel);
        using var inFlight = new SemaphoreSlim(limits.MaxInFlightPerStream);
        var pending = new List<Task>();
        try
        {
            await foreach (var r in requestStream.ReadAllAsync(cancel))
            {
                RequestSizeInterceptor.Check(r.CalculateSize(), limits.MaxRequestBytes);
                await inFlight.WaitAsync(cancel);
                var id = r.RequestId;
                pending.Add(Answer(r, id));
                if (pending.Count > 4 * limits.MaxInFlightPerStream) pending.RemoveAll(t => t.IsCompleted);
            }
            await Task.WhenAll(pending);
        }
        finally
        {
            answers.Writer.TryComplete();
        }
        await writer;

        async Task Answer(EvaluateStreamRequest r, string id)
        {
            try
            {
                var item = r.Request is null
                    ? Error(StatusCode.InvalidArgument, "request", "required: the EvaluateRequest of this item")
                    : await Item(r.Request, "request.", context);
                await answers.Writer.WriteAsync(new EvaluateStreamResponse { RequestId = id, Item = item }, cancel);
            }
            finally
            {
                inFlight.Release();
            }
        }
    }

    private async Task<ItemResult> Item(EvaluateRequest request, string prefix, ServerCallContext context)
    {
        try
        {
            return new ItemResult { Result = await Price(request, prefix, context.CancellationToken) };
        }
        catch (Exception e) when (Status(e, context) is { } status)
        {
            return new ItemResult { Error = new ItemError { Code = (int)status.StatusCode, Message = status.Detail, Field = (e as BadRequestException)?.Field ?? "" } };
        }
    }

    private async Task<CostResult> Price(EvaluateRequest request, string prefix, CancellationToken cancel)
    {
        var decoded = decoder.Decode(request, prefix);
        PricedNetwork priced;
        try
        {
            priced = await backend.PriceAsync(decoded, cancel);
        }
        catch (UnpriceableException e)
        {
            throw new BadRequestException(prefix + "network", $"cannot be priced on {decoded.Hardware.Id}: {e.Message}");
        }
        return ToWire(decoded, priced);
    }

    /// <summary>The status a failure maps to; null for a bug (the framework then answers INTERNAL and we log it).</summary>
    private Status? Status(Exception e, ServerCallContext context)
    {
        switch (e)
        {
            case BadRequestException bad:
                return new Status(StatusCode.InvalidArgument, bad.Message);
            case OperationCanceledException when context.Deadline <= DateTime.UtcNow:
                return new Status(StatusCode.DeadlineExceeded, "the client's deadline passed; the work was stopped");
            case OperationCanceledException:
                return new Status(StatusCode.Cancelled, "the client cancelled the call; the work was stopped");
            case TimeoutException t:
                return new Status(StatusCode.Unavailable, t.Message);
            case RpcException rpc:
                return rpc.Status;
            default:
                LogFailure(log, e);
                return new Status(StatusCode.Internal, $"internal error: {e.GetType().Name}: {e.Message}");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "pricing failed")]
    private static partial void LogFailure(ILogger logger, Exception exception);

    private static ItemResult Error(StatusCode code, string field, string reason) =>
        new() { Error = new ItemError { Code = (int)code, Message = $"{field}: {reason}", Field = field } };

    internal static CostResult ToWire(PricingRequest request, PricedNetwork priced)
    {
        var r = priced.Report;
        var result = new CostResult
        {
            ArchitectureHash = request.Network.Hash,
            NetworkName = request.Network.Name,
            Hardware = request.Hardware.Name,
            HardwareFingerprint = request.HardwareFingerprint,
            Fidelity = request.Fidelity == Shared.Protocol.Fidelity.Detailed ? Wire.Fidelity.Detailed : Wire.Fidelity.Analytical,
            LatencyMs = r.LatencyMs,
            SimulatedMs = r.SimulatedMs,
            RuntimeOverheadMs = r.RuntimeOverheadMs,
            EnergyMj = r.EnergyMj,
            PowerW = r.PowerW,
            Utilization = r.Utilization,
            Params = r.Params,
            Macs = r.Macs,
            CachedWeightBytes = r.CachedWeightBytes,
            StreamedWeightBytes = r.StreamedWeightBytes,
            ActivationSpillBytes = r.ActivationSpillBytes,
            SimulatorVersion = priced.SimulatorVersion,
            Cached = priced.Cached,
            AveragePowerW = r.AveragePowerW,
            PowerBudgetW = r.PowerBudgetW,
            OverPowerBudget = r.OverPowerBudget,
        };
        if (r.Host is { } host)
            result.Host = new Wire.HostCost
            {
                TotalMs = host.TotalMs, InvocationMs = host.InvocationMs, InputMs = host.InputMs, OutputMs = host.OutputMs,
                LinkLatencyMs = host.LinkLatencyMs, CpuMs = host.CpuMs,
            };
        foreach (var s in r.Segments ?? [])
            result.Segments.Add(new Wire.Segment { Device = s.Device, FirstLayer = s.FirstLayer, LastLayer = s.LastLayer, Layers = s.Layers, Ms = s.Ms });
        var ops = request.Network.Layers.ToDictionary(l => l.Name, l => l.Op, StringComparer.Ordinal);
        foreach (var l in r.Layers)
        {
            var (kernelH, kernelW, stride, groups) = ops.GetValueOrDefault(l.Name) switch
            {
                Shared.Architecture.Conv2DOp c => (c.KernelH, c.KernelW, c.Stride, c.Groups),
                Shared.Architecture.PoolOp p => (p.Kernel, p.Kernel, p.Stride, 0),
                _ => (0, 0, 0, 0),
            };
            result.Layers.Add(new Wire.LayerCost
            {
                KernelH = kernelH,
                KernelW = kernelW,
                Stride = stride,
                Groups = groups,
                Name = l.Name,
                Op = l.Op,
                Mapping = l.Mapping,
                LatencyMs = l.LatencyMs,
                EnergyUj = l.EnergyUj,
                Utilization = l.Utilization,
                Bound = BoundOf(l.Bound),
                Macs = l.Macs,
                OffChipBytes = l.OffChipBytes,
            });
        }
        return result;
    }

    private static Bound BoundOf(string name) => name switch
    {
        "compute" => Bound.Compute,
        "activation bandwidth" => Bound.ActivationBandwidth,
        "weight load" => Bound.WeightLoad,
        "off-chip" => Bound.OffChip,
        "overhead" => Bound.Overhead,
        "host cpu" => Bound.HostCpu,
        _ => Bound.Unspecified,
    };
}

/// <summary>What one server accepts; published in <c>GetCapabilities</c>.</summary>
public sealed record CostServiceLimits
{
    public int MaxRequestBytes { get; init; } = 64 << 20;
    public int MaxBatchItems { get; init; } = 10_000;
    public int MaxInFlightPerStream { get; init; } = 256;
}
