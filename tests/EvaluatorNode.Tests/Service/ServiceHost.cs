using Grpc.Net.Client;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Service;
using Fidelity = NasCluster.Cost.V1.Fidelity;

namespace NasCluster.EvaluatorNode.Tests.Service;

/// <summary>
/// A real cost server (Kestrel, HTTP/2, port 0) in the test's process with a client channel to it; each
/// test owns one, so caches and counters start empty.
/// </summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    private ServiceHost(CostServer server, ICostBackend backend, GrpcChannel channel)
    {
        Server = server;
        Backend = backend;
        Channel = channel;
        Client = new CostService.CostServiceClient(channel);
    }

    public CostServer Server { get; }

    public ICostBackend Backend { get; }

    public GrpcChannel Channel { get; }

    public CostService.CostServiceClient Client { get; }

    public InProcessCostBackend InProcess => (InProcessCostBackend)Backend;

    public static async Task<ServiceHost> Start(CostServiceLimits? limits = null, ICostBackend? backend = null)
    {
        backend ??= new InProcessCostBackend(new LayerCostCache());
        var server = await CostServer.StartAsync(new CostServerOptions { Port = 0, Limits = limits ?? new CostServiceLimits() }, backend);
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.Port}", new GrpcChannelOptions { MaxReceiveMessageSize = null, MaxSendMessageSize = null });
        return new ServiceHost(server, backend, channel);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>Requests as a client writes them.</summary>
internal static class Requests
{
    public static EvaluateRequest Arch(string archJson, string preset = "pixel6", bool layers = false, Fidelity fidelity = Fidelity.Analytical) =>
        new()
        {
            Network = new NetworkSource { ArchJson = archJson },
            Hardware = new HardwareSource { Preset = preset },
            Fidelity = fidelity,
            Layers = layers,
        };

    public static EvaluateRequest Zoo(string name, string preset = "pixel6") =>
        new() { Network = new NetworkSource { ZooModel = name }, Hardware = new HardwareSource { Preset = preset } };

    public static EvaluateRequest Indices(string space, IEnumerable<int> indices, Fidelity fidelity = Fidelity.Analytical)
    {
        var c = new SpaceCandidate { BuiltInSpace = space };
        c.ChoiceIndices.AddRange(indices);
        return new EvaluateRequest { Network = new NetworkSource { Candidate = c }, Hardware = new HardwareSource { Preset = "pixel6" }, Fidelity = fidelity };
    }
}

/// <summary>Waits for a condition that other threads make true (the AwaitAssert of tests without actors).</summary>
internal static class AwaitAssert
{
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var end = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (DateTime.UtcNow > end) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }
}
