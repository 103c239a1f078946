using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;

namespace NasCluster.NodeHosting;

/// <summary>
/// Starting a node: the ActorSystem from <see cref="NodeConfig"/>, joined to the cluster (through its seed
/// nodes, or to itself when it has none) and Up. What a role hosts is started by its own project
/// (evaluator region, trainer agent, experiment registry); this is the part every executable shares.
/// </summary>
public static class NodeHost
{
    /// <exception cref="NasInputException">The address cannot be bound, or the cluster cannot be joined in time.</exception>
    public static async Task<ActorSystem> StartAsync(NodeOptions options, string? extraHocon = null, TimeSpan? joinTimeout = null)
    {
        // Every node knows the cluster tools' serializers from the start: a shard coordinator or singleton
        // hosted here may be messaged before this node starts its own sharding or singletons.
        var config = NodeConfig.Build(options, extraHocon)
            .WithFallback(Akka.Cluster.Sharding.ClusterSharding.DefaultConfig())
            .WithFallback(ClusterSingleton.DefaultConfig())
            .WithFallback(Akka.DistributedData.DistributedData.DefaultConfig());
        ActorSystem system;
        try
        {
            system = options.Tls is null
                ? ActorSystem.Create(NodeConfig.SystemName, config)
                : ActorSystem.Create(NodeConfig.SystemName, BootstrapSetup.Create().WithConfig(config).And(options.Tls.TransportSetup()));
        }
        catch (Exception e) when (e is Akka.Remote.RemoteTransportException or Akka.Configuration.ConfigurationException or AggregateException)
        {
            throw new NasInputException($"cannot start the node on {config.GetString("akka.remote.dot-netty.tcp.hostname")}:{config.GetInt("akka.remote.dot-netty.tcp.port")}: {Innermost(e).Message}");
        }
        try
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            var seeds = config.GetStringList("akka.cluster.seed-nodes");
            if (seeds.Count == 0) cluster.Join(cluster.SelfAddress);
            var timeout = joinTimeout ?? TimeSpan.FromSeconds(60);
            var finished = await Task.WhenAny(up.Task, system.WhenTerminated, Task.Delay(timeout));
            if (finished != up.Task)
                throw new NasInputException($"could not join the cluster through {string.Join(", ", seeds)} within {timeout.TotalSeconds:0} s " +
                                            "(is a coordinator running there, and are host and port reachable?" +
                                            (options.Tls is null ? " A cluster that runs TLS needs --tls-cert, --tls-key and --tls-ca.)" : " Over TLS: is this node's certificate issued by the cluster's CA?)"));
            return system;
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    /// <summary>The proxy of the experiment registry singleton (on the coordinator-role nodes).</summary>
    public static IActorRef RegistryProxy(ActorSystem system) =>
        system.ActorOf(ClusterSingletonProxy.Props($"/user/{ExperimentProtocol.RegistryName}",
            ClusterSingletonProxySettings.Create(system).WithRole("coordinator")), $"{ExperimentProtocol.RegistryName}-proxy");

    /// <summary>
    /// Runs a long-lived node until Ctrl+C or SIGTERM (then leaves the cluster gracefully: shards hand off,
    /// singletons move) or until the cluster removes it. Returns the process exit code.
    /// </summary>
    public static async Task<int> RunUntilStoppedAsync(ActorSystem system, TextWriter log)
    {
        using var stop = new StopSignal(); // leave gracefully instead of dying
        var finished = await Task.WhenAny(stop.Requested, system.WhenTerminated);
        if (finished == stop.Requested)
        {
            log.WriteLine("leaving the cluster…");
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
            log.WriteLine("left");
            return 0;
        }
        log.WriteLine("the node was removed from the cluster (downed or shut down)");
        return 1;
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
