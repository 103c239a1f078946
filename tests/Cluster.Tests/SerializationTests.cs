using System.Reflection;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// The persisted events are pinned byte for byte: a journal written today must read the same tomorrow.
/// A failing golden test means a change would break stored experiments — add a new event version instead
/// of changing one. (To add a new golden file: NASCLUSTER_UPDATE_GOLDEN=1 dotnet test, then review it.)
/// </summary>
public sealed class SerializationTests
{
    private static readonly RewardSpec Reward = new("mnas", 1.5, null, null, -0.07, -0.07, 0.0);

    private static readonly ExperimentSpec Spec = new(
        "golden", """{"format":"nascluster-space"}""", "built-in:mnv2-edgetpu-classification", "40613e0d", ControllerKind.Reinforce, 7, 100, 10, false,
        "pixel6", null, "a1b2c3", "pixel6", "clock_hz=1066000000;pe_x=4", Fidelity.Analytical, "ppe-1", Reward, QualityMode.Proxy, 300, 3, 30_000, 600_000, 1000, null);

    /// <summary>One instance of every type the journal or the snapshot store holds.</summary>
    public static TheoryData<string, object> PersistedEvents() => new()
    {
        { "exp-created-v1", new ExperimentCreated(Spec, """{"rng":[1,2]}""", 1_764_000_000_000) },
        { "exp-proposed-v1", new TrialsProposed(10, [[0, 1, 2], [2, 1, 0]], ["hash-a", "hash-b"], """{"step":3}""") },
        { "exp-reused-v1", new TrialReused(11, 4) },
        { "exp-dispatched-v1", new DispatchAttempted(12, WorkKind.Cost, 2, "evaluator", 1_764_000_000_123) },
        { "exp-cost-v1", new CostRecorded(12, new CostSummary(1.25, 1.0, 0.75, 1.9, 0.42, 3_500_000, 300_000_000, 3_000_000, 500_000), "akka.tcp://nascluster@10.0.0.2:4054") },
        { "exp-quality-v1", new QualityRecorded(12, 0.8125, 0.31, 12.5, 24.0, "trainer-1", "weights/trial12.bin", "abcdef") },
        { "exp-failed-v1", new TrialFailed(13, "quality failed 3 times; last: deadline passed") },
        { "exp-preempted-v1", new AttemptPreempted(14, WorkKind.Quality, 2, "trainer-2", "its trainer left the cluster") },
        { "exp-controller-v1", new ControllerUpdated([10, 11], [0.71, 0.0], """{"step":4}""") },
        { "exp-finished-v1", new ExperimentFinished(1_764_000_999_000) },
        { "exp-snapshot-v1", new ExperimentSnapshotV1(1, """{"spec":{"name":"golden"}}""") },
        { "reg-started-v1", new RegistryProtocol.RegistryExperimentStarted("golden", 1_764_000_000_000) },
        { "reg-ended-v1", new RegistryProtocol.RegistryExperimentEnded("golden", "done", 1_764_000_999_000) },
    };

    // The source tree's file, so that the update switch writes exactly the file the test then compares against.
    private static string GoldenPath(string manifest) => Path.Combine(SourceDirectory(), "Golden", manifest + ".json");

    [Theory]
    [MemberData(nameof(PersistedEvents))]
    public void Persisted_events_serialise_to_their_golden_bytes_and_back(string manifest, object @event)
    {
        Assert.Equal(manifest, NasSerializer.Manifests[@event.GetType()]);
        var bytes = NasSerializer.ToBytes(@event);
        var path = GoldenPath(manifest);
        if (Environment.GetEnvironmentVariable("NASCLUSTER_UPDATE_GOLDEN") == "1") File.WriteAllBytes(path, bytes);
        Assert.True(File.Exists(path), $"no golden file for {manifest}: {path}");
        var golden = File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetString(golden), Encoding.UTF8.GetString(bytes));
        var back = NasSerializer.FromBytes(golden, manifest);
        Assert.IsType(@event.GetType(), back);
        Assert.Equal(golden, NasSerializer.ToBytes(back));
    }

    [Fact]
    public void Every_persisted_event_type_has_a_golden_test()
    {
        static bool Persisted(Type t) => (typeof(IExperimentEvent).IsAssignableFrom(t) || typeof(IExperimentSnapshot).IsAssignableFrom(t) || typeof(IRegistryEvent).IsAssignableFrom(t)) && !t.IsAbstract && !t.IsInterface;
        var persisted = typeof(IExperimentEvent).Assembly.GetTypes().Where(Persisted).Select(t => NasSerializer.Manifests[t]).Order();
        var tested = PersistedEvents().Select(row => (string)row[0]).Append("exp-snapshot-v2").Order(); // v2: SnapshotTests' realistic ledger
        Assert.Equal(persisted, tested);
    }

    [Fact]
    public void Every_message_type_has_one_stable_manifest_and_manifests_are_unique()
    {
        var messages = typeof(INasMessage).Assembly.GetTypes()
            .Where(t => typeof(INasMessage).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface).ToList();
        Assert.NotEmpty(messages);
        foreach (var t in messages)
        {
            Assert.True(NasSerializer.Manifests.TryGetValue(t, out var m), $"{t.Name} has no manifest");
            Assert.Matches("^[a-z]+(-[a-z]+)*-v[0-9]+$", m);
        }
        Assert.Equal(NasSerializer.Manifests.Count, NasSerializer.Manifests.Values.Distinct().Count());
    }

    [Fact]
    public void An_unknown_manifest_is_a_clear_error_not_a_guess()
    {
        var e = Assert.Throws<SerializationException>(() => NasSerializer.FromBytes("{}"u8.ToArray(), "exp-created-v99"));
        Assert.Contains("unknown manifest 'exp-created-v99'", e.Message);
    }

    [Fact]
    public async Task The_cluster_configuration_binds_every_message_to_the_serializer_and_rejects_unregistered_types()
    {
        var config = NodeConfig.Build(new NodeOptions { Db = Path.Combine(Path.GetTempPath(), "unused.db") });
        using var system = ActorSystem.Create("serialization", config.WithFallback(ConfigurationFactory.ParseString("akka.actor.provider = local")));
        try
        {
            var serialization = system.Serialization;
            foreach (var t in NasSerializer.Manifests.Keys)
                Assert.Equal(NasSerializer.Id, serialization.FindSerializerForType(t).Identifier);
            // Strict: a type nobody registered is not silently sent with a reflection-based serializer.
            Assert.ThrowsAny<Exception>(() => serialization.FindSerializerFor(new Unregistered(1)).ToBinary(new Unregistered(1)));
        }
        finally
        {
            await system.Terminate();
        }
    }

    private sealed record Unregistered(int X);

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;
}
