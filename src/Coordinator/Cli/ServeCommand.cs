using System.CommandLine;
using NasCluster.EvaluatorNode.Cluster;
using NasCluster.EvaluatorNode.Service;
using NasCluster.NodeHosting;
using NasCluster.NodeHosting.Tls;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// <c>nascluster serve</c>: the cost service over gRPC (proto/nascluster/cost/v1, docs/service.md) for NAS
/// clients in any language. Standalone it prices in this process; with <c>--join</c> it is a cluster node
/// that sends every request to the evaluator entities the searches use.
/// </summary>
internal static class ServeCommand
{
    public static Command Build()
    {
        var serve = new Command("serve", "Serve the cost service (gRPC nascluster.cost.v1) until Ctrl+C: in-process, or on a cluster's evaluators with --join.");
        var port = Options.Int("--port", "Port of the gRPC server (0: any free port, printed on start).", 50051);
        var host = new Option<string>("--host") { Description = "Address to listen on (default 127.0.0.1: loopback only).", DefaultValueFactory = _ => "127.0.0.1" };
        var join = new Option<string[]>("--join") { Description = "Price on a cluster: a seed node's host:port (repeatable). Without it pricing runs in this process.", Arity = ArgumentArity.ZeroOrMore };
        var clusterPort = Options.Int("--cluster-port", "With --join: the port of this process's cluster node (0: any free port).", 0);
        var cert = new Option<string?>("--tls-cert") { Description = "PEM certificate (chain): serve TLS. Needs --tls-key." };
        var key = new Option<string?>("--tls-key") { Description = "PEM private key of --tls-cert." };
        var clientCa = new Option<string?>("--tls-ca", "--client-ca")
        {
            Description = "PEM CA certificate: require client certificates it issued (mutual TLS); with --join the cluster node uses the same three files.",
        };
        var maxRequest = Options.Int("--max-request-mb", "Largest request accepted, MiB (larger: RESOURCE_EXHAUSTED).", 64);
        var timeout = Options.Int("--evaluator-timeout", "With --join: seconds to wait for an evaluator before UNAVAILABLE (a client deadline ends it sooner).", 60);
        foreach (var o in new Option[] { port, host, join, clusterPort, cert, key, clientCa, maxRequest, timeout }) serve.Add(o);
        serve.SetAction(p => CliApp.Guard(p, o =>
        {
            var mb = p.GetValue(maxRequest);
            if (mb is < 1 or > 1024) throw new NasInputException($"--max-request-mb must be 1..1024 (got {mb})");
            var portValue = p.GetValue(port);
            if (portValue is < 0 or > 65535) throw new NasInputException($"--port must be 0..65535 (got {portValue})");
            var options = new CostServerOptions
            {
                Host = p.GetValue(host)!,
                Port = portValue,
                CertificateFile = p.GetValue(cert),
                KeyFile = p.GetValue(key),
                ClientCaFile = p.GetValue(clientCa),
                Limits = new CostServiceLimits { MaxRequestBytes = mb << 20 },
            };
            var seeds = (p.GetValue(join) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
            // With --join the service's own cluster node runs mutual TLS with the same files when all three are given.
            var nodeTls = options.CertificateFile is not null && options.ClientCaFile is not null
                ? NodeTls.From(options.CertificateFile, options.KeyFile, options.ClientCaFile)
                : null;
            return RunAsync(o, options, seeds, p.GetValue(clusterPort), TimeSpan.FromSeconds(p.GetValue(timeout)), nodeTls).GetAwaiter().GetResult();
        }));
        return serve;
    }

    private static async Task<int> RunAsync(CliOutput o, CostServerOptions options, List<string> seeds, int clusterPort, TimeSpan evaluatorTimeout, NodeTls? nodeTls)
    {
        Akka.Actor.ActorSystem? system = null;
        ICostBackend backend;
        if (seeds.Count == 0)
        {
            backend = new InProcessCostBackend();
        }
        else
        {
            var node = NodeConfig.FromEnvironment(new NodeOptions()) with { Roles = [], Seeds = seeds, Host = options.Host, Port = clusterPort };
            if (nodeTls is not null) node = node with { Tls = nodeTls };
            foreach (var s in seeds) NodeConfig.SeedAddress(s, node.Tls is not null);
            system = await NodeHost.StartAsync(node);
            backend = new ClusterCostBackend(system, await EvaluatorRegion.StartProxyAsync(system), evaluatorTimeout);
        }
        await using var server = await CostServer.StartAsync(options, backend, o.Err);
        var scheme = server.Tls ? "https" : "http";
        var where = system is null ? "pricing in this process" : $"pricing on the cluster via {string.Join(", ", seeds)} (node {Akka.Cluster.Cluster.Get(system).SelfAddress})";
        o.Out.WriteLine($"serving {CostServer.ServiceName} on {scheme}://{options.Host}:{server.Port} ({where})");
        o.Out.Flush();
        var code = system is null ? await WaitForStopAsync() : await NodeHost.RunUntilStoppedAsync(system, o.Err);
        await server.StopAsync();
        return code;
    }

    private static async Task<int> WaitForStopAsync()
    {
        using var stop = new StopSignal();
        await stop.Requested;
        return ExitCodes.Ok;
    }
}
