using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Service;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using Fidelity = NasCluster.Cost.V1.Fidelity;

namespace NasCluster.EvaluatorNode.Tests.Service;

/// <summary>
/// What a NAS client meets beyond one good request: batches and streams with bad items among good ones,
/// bytes that are no message, oversized messages, deadlines, health and reflection.
/// </summary>
public sealed class CostServiceRobustnessTests
{
    private const string Space = "mnv2-edgetpu-classification";

    private static readonly Method<byte[], byte[]> RawEvaluate = new(MethodType.Unary, CostServer.ServiceName, "Evaluate",
        Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    private static EvaluateRequest[] Candidates(int count, ulong seed = 11, Fidelity fidelity = Fidelity.Analytical)
    {
        var space = BuiltInSpaces.Load(Space);
        var rng = new DeterministicRng(seed);
        var seen = new HashSet<string>();
        var list = new List<EvaluateRequest>();
        while (list.Count < count)
        {
            var c = space.Sample(rng);
            if (seen.Add(c.Key)) list.Add(Requests.Indices(Space, c.Vector, fidelity));
        }
        return [.. list];
    }

    [Fact]
    public async Task A_batch_answers_every_item_in_order_and_a_bad_item_fails_alone_with_its_field()
    {
        await using var host = await ServiceHost.Start();
        var batch = new EvaluateBatchRequest();
        var good = Candidates(5);
        batch.Items.Add(good[0]);
        batch.Items.Add(good[1]);
        batch.Items.Add(CostServiceTests.Bad("unknown-decision"));
        batch.Items.Add(good[2]);
        batch.Items.Add(CostServiceTests.Bad("unknown-preset"));
        batch.Items.Add(good[0]);

        var answer = await host.Client.EvaluateBatchAsync(batch);
        Assert.Equal(6, answer.Items.Count);
        var space = BuiltInSpaces.Load(Space);
        foreach (var i in new[] { 0, 1, 3 })
        {
            var expected = space.Build(space.FromVector(batch.Items[i].Network.Candidate.ChoiceIndices));
            Assert.Equal(expected.Hash, answer.Items[i].Result.ArchitectureHash);
            Assert.Equal(CostModel.Estimate(expected, Probe.Pixel6, cache: new LayerCostCache()).LatencyMs, answer.Items[i].Result.LatencyMs);
        }
        Assert.Equal((int)StatusCode.InvalidArgument, answer.Items[2].Error.Code);
        Assert.Equal("items[2].network.candidate.decisions.warp_factor", answer.Items[2].Error.Field);
        Assert.Contains("warp_factor", answer.Items[2].Error.Message, StringComparison.Ordinal);
        Assert.Equal("items[4].hardware.preset", answer.Items[4].Error.Field);
        Assert.Equal(answer.Items[0].Result.ArchitectureHash, answer.Items[5].Result.ArchitectureHash);
        Assert.True(answer.Items[5].Result.Cached || answer.Items[0].Result.Cached);
    }

    [Fact]
    public async Task A_batch_over_the_item_limit_is_resource_exhausted_naming_the_limit()
    {
        await using var host = await ServiceHost.Start(new CostServiceLimits { MaxBatchItems = 3 });
        var batch = new EvaluateBatchRequest();
        batch.Items.AddRange(Candidates(4));
        var e = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.EvaluateBatchAsync(batch));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("the limit is 3", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_stream_answers_each_request_id_once_with_errors_as_items_and_the_call_ends_cleanly()
    {
        await using var host = await ServiceHost.Start();
        var requests = Candidates(40);
        using var call = host.Client.EvaluateStream();
        var answers = new Dictionary<string, ItemResult>();
        var reader = Task.Run(async () =>
        {
            await foreach (var a in call.ResponseStream.ReadAllAsync()) answers.Add(a.RequestId, a.Item);
        });
        for (var i = 0; i < requests.Length; i++) await call.RequestStream.WriteAsync(new EvaluateStreamRequest { RequestId = $"r{i}", Request = requests[i] });
        await call.RequestStream.WriteAsync(new EvaluateStreamRequest { RequestId = "bad", Request = CostServiceTests.Bad("no-network") });
        await call.RequestStream.WriteAsync(new EvaluateStreamRequest { RequestId = "empty" });
        await call.RequestStream.CompleteAsync();
        await reader;

        Assert.Equal(requests.Length + 2, answers.Count);
        var space = BuiltInSpaces.Load(Space);
        for (var i = 0; i < requests.Length; i++)
            Assert.Equal(space.Build(space.FromVector(requests[i].Network.Candidate.ChoiceIndices)).Hash, answers[$"r{i}"].Result.ArchitectureHash);
        Assert.Equal("request.network", answers["bad"].Error.Field);
        Assert.Equal((int)StatusCode.InvalidArgument, answers["empty"].Error.Code);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Theory]
    [InlineData(new byte[] { 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { 0x0a, 0x05, 0x0a })] // field 1 says 5 bytes follow; 1 does
    [InlineData(new byte[] { 0x0b })] // a group start, never closed
    public async Task Bytes_that_are_not_a_message_are_invalid_argument_naming_the_message_type(byte[] garbage)
    {
        await using var host = await ServiceHost.Start();
        var e = Assert.Throws<RpcException>(() => host.Channel.CreateCallInvoker().BlockingUnaryCall(RawEvaluate, null, new CallOptions(), garbage));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("not a valid nascluster.cost.v1.EvaluateRequest message", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Random_and_truncated_messages_never_get_an_internal_error_and_the_server_keeps_answering()
    {
        await using var host = await ServiceHost.Start();
        var invoker = host.Channel.CreateCallInvoker();
        var valid = new List<byte[]>
        {
            Requests.Zoo("mobilenet-v2").ToByteArray(),
            Requests.Arch(ArchJson.Write(ModelZoo.Build("squeezenet")), layers: true).ToByteArray(),
            Candidates(1)[0].ToByteArray(),
            new EvaluateRequest { Network = new NetworkSource { OnnxModel = ByteString.CopyFrom(NasCluster.Tests.Onnx.OnnxGraphs.SmallCnn()) } }.ToByteArray(),
        };
        var rng = new Random(20261202);
        var codes = new Dictionary<StatusCode, int>();
        for (var i = 0; i < 300; i++)
        {
            var source = valid[i % valid.Count];
            var bytes = (i % 3) switch
            {
                0 => source[..rng.Next(source.Length)], // truncated
                1 => Flip(source, rng), // a few bytes changed
                _ => RandomBytes(rng), // noise
            };
            StatusCode code;
            try
            {
                await invoker.AsyncUnaryCall(RawEvaluate, null, new CallOptions(), bytes);
                code = StatusCode.OK;
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
                Assert.False(e.Status.Detail.Contains("Exception was thrown by handler", StringComparison.Ordinal), e.Status.Detail);
            }
            codes[code] = codes.GetValueOrDefault(code) + 1;
        }
        Assert.All(codes.Keys, c => Assert.Contains(c, new[] { StatusCode.OK, StatusCode.InvalidArgument }));
        Assert.True(codes.GetValueOrDefault(StatusCode.InvalidArgument) > 100, string.Join(", ", codes));
        Assert.Equal(ModelZoo.Build("mobilenet-v2").Hash, (await host.Client.EvaluateAsync(Requests.Zoo("mobilenet-v2"))).Result.ArchitectureHash);
    }

    private static byte[] Flip(byte[] source, Random rng)
    {
        var copy = (byte[])source.Clone();
        for (var k = 0; k < 1 + rng.Next(4); k++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
        return copy;
    }

    private static byte[] RandomBytes(Random rng)
    {
        var b = new byte[1 + rng.Next(200)];
        rng.NextBytes(b);
        return b;
    }

    [Fact]
    public async Task An_oversized_request_is_resource_exhausted_with_the_limit_and_a_far_larger_one_is_refused_by_the_framework()
    {
        await using var host = await ServiceHost.Start(new CostServiceLimits { MaxRequestBytes = 64 << 10 });
        var big = Requests.Arch(ArchJson.Write(ModelZoo.Build("mobilenet-v2")) + new string(' ', 100 << 10));
        var e = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.EvaluateAsync(big));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("the limit is 65536 bytes", e.Status.Detail, StringComparison.Ordinal);

        var huge = Requests.Arch(new string(' ', 1 << 20));
        var f = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.EvaluateAsync(huge));
        Assert.Equal(StatusCode.ResourceExhausted, f.StatusCode);

        using var call = host.Client.EvaluateStream();
        await call.RequestStream.WriteAsync(new EvaluateStreamRequest { RequestId = "big", Request = big });
        await call.RequestStream.CompleteAsync();
        var s = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.ResourceExhausted, s.StatusCode);

        Assert.False((await host.Client.EvaluateAsync(Requests.Zoo("mobilenet-v2"))).Result.Cached);
    }

    [Fact]
    public async Task A_passed_deadline_is_deadline_exceeded_and_the_pricing_stops_instead_of_running_for_nobody()
    {
        // A batch of distinct candidates whose tile-level simulations take at least 2 s here (measured with a
        // cold per-layer cache, as the server's is); the client gives the batch 200 ms.
        var count = 200;
        while (count < 10_000)
        {
            var cache = new LayerCostCache();
            var space = BuiltInSpaces.Load(Space);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            foreach (var r in Candidates(count, seed: 5))
                CostModel.Estimate(space.Build(space.FromVector(r.Network.Candidate.ChoiceIndices)), Probe.Pixel6, NasCluster.Shared.Protocol.Fidelity.Detailed, cache);
            if (watch.Elapsed > TimeSpan.FromSeconds(2)) break;
            count *= 2;
        }
        await using var host = await ServiceHost.Start();
        var batch = new EvaluateBatchRequest();
        batch.Items.AddRange(Candidates(count, seed: 5, Fidelity.Detailed));
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.EvaluateBatchAsync(batch, deadline: DateTime.UtcNow.AddMilliseconds(200)));
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);

        // Every item either finished or was given up (before it started, or between layers); most were given up.
        await AwaitAssert.Until(() => host.InProcess.Computed + host.InProcess.Stopped == count, "every item of the batch finished or stopped");
        var computed = host.InProcess.Computed;
        Assert.True(host.InProcess.Stopped > count / 2, $"{computed} of {count} simulations ran to the end after a 200 ms deadline");
        // Nothing runs on: the server answers another request, and only that one is computed.
        Assert.False((await host.Client.EvaluateAsync(Requests.Zoo("mobilenet-v2"))).Result.Cached);
        Assert.Equal(computed + 1, host.InProcess.Computed);
    }

    [Fact]
    public async Task A_backend_that_waits_sees_the_clients_deadline_fire_and_the_call_is_deadline_exceeded()
    {
        var backend = new WaitingBackend();
        await using var host = await ServiceHost.Start(backend: backend);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Client.EvaluateAsync(Requests.Zoo("mobilenet-v2"), deadline: DateTime.UtcNow.AddMilliseconds(200)));
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        await backend.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A backend that never answers until its token fires, and says when it did.</summary>
    private sealed class WaitingBackend : ICostBackend
    {
        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Mode => "waiting";

        public bool Healthy => true;

        public async Task<PricedNetwork> PriceAsync(PricingRequest request, CancellationToken cancel)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancel);
            }
            catch (OperationCanceledException)
            {
                Cancelled.TrySetResult();
                throw;
            }
            throw new InvalidOperationException("unreachable");
        }
    }

    [Fact]
    public async Task Health_reports_serving_for_the_server_and_the_cost_service_and_reflection_lists_the_service()
    {
        await using var host = await ServiceHost.Start();
        var health = new Health.HealthClient(host.Channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = CostServer.ServiceName })).Status);

        var reflection = new ServerReflection.ServerReflectionClient(host.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = CostServer.ServiceName });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Contains(CostServer.ServiceName, call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
        Assert.True(await call.ResponseStream.MoveNext());
        var file = Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal("nascluster.cost.v1", file.Package);
        Assert.Contains(file.Service.Single().Method, m => m.Name == "EvaluateStream" && m.ClientStreaming && m.ServerStreaming);
    }
}
