using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.EvaluatorNode.Service;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// <c>serve --join</c>'s backend on a real cluster: the service's requests go to the same evaluator entities
/// the searches use, so what a search priced is answered from memory, and the numbers are the cost model's.
/// </summary>
[Trait("Tier", "slow")]
public sealed class CostServiceClusterTests
{
    private const string Space = "mnv2-edgetpu-classification";

    [Fact]
    public async Task The_service_on_the_cluster_prices_on_the_searches_entities_and_answers_what_a_search_priced_from_memory()
    {
        using var db = new TestDatabase("sqlite");
        await using var coordinator = await Nodes.Start(db.Url, ["coordinator"]);
        var seed = Nodes.Seed(coordinator);
        await using var evaluator = await Nodes.Start(db.Url, ["evaluator"], [seed]);
        await using var trainer = await Nodes.Start(db.Url, ["trainer"], [seed], Nodes.SyntheticTrainer("trainer", 2));

        var done = await Nodes.StartSearch(coordinator, Specs.Spec("priced", trials: 10, batch: 5, space: Space));
        Assert.Equal(10, (await done.WaitAsync(TimeSpan.FromMinutes(2))).Completed);
        var events = Journal.Events(db.Target, "priced");
        var vector = events.OfType<TrialsProposed>().First().Vectors[0];
        var searched = events.OfType<CostRecorded>().Single(c => c.TrialId == events.OfType<TrialsProposed>().First().FirstTrialId);

        var backend = new ClusterCostBackend(coordinator.System, coordinator.Evaluators, TimeSpan.FromSeconds(60));
        Assert.True(backend.Healthy);
        await using var server = await CostServer.StartAsync(new CostServerOptions { Port = 0 }, backend);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.Port}");
        var client = new CostService.CostServiceClient(channel);

        var request = new EvaluateRequest
        {
            Network = new NetworkSource { Candidate = new SpaceCandidate { BuiltInSpace = Space, ChoiceIndices = { vector } } },
            Hardware = new HardwareSource { Preset = "pixel6" },
            Layers = true,
        };
        var answer = (await client.EvaluateAsync(request)).Result;
        Assert.True(answer.Cached, "the search's entity answers from memory");
        Assert.Equal(searched.Cost.LatencyMs, answer.LatencyMs);
        Assert.Equal(searched.Cost.EnergyMj, answer.EnergyMj);

        var space = BuiltInSpaces.Load(Space);
        var net = space.Build(space.FromVector(vector));
        var local = CostModel.Estimate(net, HardwarePresets.Get("pixel6"), cache: new LayerCostCache());
        Assert.Equal(local.LatencyMs, answer.LatencyMs);
        Assert.Equal(local.Layers.Count, answer.Layers.Count);
        Assert.Equal(net.Hash, answer.ArchitectureHash);

        // A network no search has seen: computed on the evaluator node, then remembered there.
        var fresh = new EvaluateRequest { Network = new NetworkSource { ZooModel = "mobilenet-edgetpu-v2-s" } };
        Assert.False((await client.EvaluateAsync(fresh)).Result.Cached);
        Assert.True((await client.EvaluateAsync(fresh)).Result.Cached);

        // Bad input still fails alone, with its field; health says the service can price.
        var batch = new EvaluateBatchRequest { Items = { fresh, new EvaluateRequest { Network = new NetworkSource { ZooModel = "nope" } } } };
        var items = (await client.EvaluateBatchAsync(batch)).Items;
        Assert.True(items[0].Result.Cached);
        Assert.Equal("items[1].network.zoo_model", items[1].Error.Field);
        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = CostServer.ServiceName });
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        // A network that does not map fails as INVALID_ARGUMENT through the entity, too.
        var unmappable = new EvaluateRequest { Network = new NetworkSource { ArchJson = Shared.Architecture.ArchJson.Write(Shared.Zoo.ModelZoo.Build("vgg-19", 1024)) } };
        var e = await Assert.ThrowsAsync<RpcException>(async () => await client.EvaluateAsync(unmappable));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("cannot be mapped", e.Status.Detail, StringComparison.Ordinal);
    }
}
