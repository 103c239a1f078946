using System.Text;
using System.Text.Json;
using Akka.Actor;
using Microsoft.Data.Sqlite;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Cli;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Rewards;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// The snapshot format is pinned by golden files of a realistic ledger (<see cref="RealisticLedger"/>): the
/// current version's bytes, and the version-1 bytes that older NasCluster wrote, which must still recover to
/// the same state. To write the current version's file after adding a new snapshot version:
/// NASCLUSTER_UPDATE_GOLDEN=1 dotnet test --filter SnapshotTests, then review the diff.
/// </summary>
public sealed class SnapshotTests
{
    private const string Current = "exp-snapshot-v2-ledger.json";
    private const string Version1 = "exp-snapshot-v1-ledger.json";

    private static string Golden(string file) => Path.Combine(SourceDirectory(), "Golden", file);

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;

    private static byte[] CurrentBytes()
    {
        if (Environment.GetEnvironmentVariable("NASCLUSTER_UPDATE_GOLDEN") == "1")
            File.WriteAllBytes(Golden(Current), NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(RealisticLedger.Build().State)));
        return File.ReadAllBytes(Golden(Current));
    }

    private static ExperimentState Decode(string file) =>
        ExperimentSnapshotCodec.FromSnapshot(NasSerializer.FromBytes(File.ReadAllBytes(Golden(file)), file[..^"-ledger.json".Length]));

    [Fact]
    public void The_current_snapshot_of_a_realistic_ledger_is_pinned_byte_for_byte()
    {
        var golden = CurrentBytes();
        var state = ExperimentSnapshotCodec.FromSnapshot(NasSerializer.FromBytes(golden, "exp-snapshot-v2"));
        Assert.Equal(Encoding.UTF8.GetString(golden), Encoding.UTF8.GetString(NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(state))));

        // What the file holds is a real ledger, not a toy: reuse, retries, failures of both kinds, a front.
        var tally = state.Tally();
        Assert.Equal(60, state.Trials.Count);
        Assert.True(state.Finished);
        Assert.Equal((47, 13, 0, 43), (tally.Completed, tally.Failed, tally.InFlight, tally.Reused));
        Assert.Contains(state.Trials, t => t.Failure?.StartsWith("cost: ", StringComparison.Ordinal) == true);
        Assert.Contains(state.Trials, t => t.Failure?.StartsWith("quality failed 3 times", StringComparison.Ordinal) == true);
        Assert.Contains(state.Trials, t => t.QualityAttempts == 2 && t.Quality is not null);
        Assert.All(state.Trials, t => Assert.True(t.Observed));
        Assert.True(state.Front(CostMetric.LatencyMs).Count >= 3);
        using var controller = JsonDocument.Parse(state.ControllerState);
        Assert.True(controller.RootElement.GetProperty("step").GetInt32() > 0);
    }

    [Fact]
    public void A_version_1_snapshot_upcasts_to_the_same_state_as_the_current_version()
    {
        var current = CurrentBytes();
        var fromV1 = Decode(Version1);
        Assert.Equal(Encoding.UTF8.GetString(current), Encoding.UTF8.GetString(NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(fromV1))));
        var fromV2 = Decode(Current);
        Assert.Equal(fromV2.FirstByHash.OrderBy(kv => kv.Key), fromV1.FirstByHash.OrderBy(kv => kv.Key));
        Assert.Equal(fromV2.Unobserved, fromV1.Unobserved);
        Assert.Equal(fromV2.Tally().BestReward, fromV1.Tally().BestReward);
    }

    [Fact]
    public void The_indexes_rebuilt_from_a_snapshot_are_those_the_events_built()
    {
        var (built, _) = RealisticLedger.Build();
        var back = ExperimentSnapshotCodec.FromSnapshot(ExperimentSnapshotCodec.ToSnapshot(built));
        Assert.Equal(built.FirstByHash.OrderBy(kv => kv.Key), back.FirstByHash.OrderBy(kv => kv.Key));
        Assert.Equal(built.Unobserved, back.Unobserved);
        Assert.Equal(NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(built)), NasSerializer.ToBytes(ExperimentSnapshotCodec.ToSnapshot(back)));
    }

    [Fact]
    public void An_inconsistent_snapshot_is_refused_with_the_reason()
    {
        var snapshot = ExperimentSnapshotCodec.ToSnapshot(RealisticLedger.Build().State);
        var shuffled = snapshot with { Trials = snapshot.Trials.Reverse().ToList() };
        Assert.Contains("trial 59 stands at position 0", Assert.Throws<InvalidDataException>(() => ExperimentSnapshotCodec.FromSnapshot(shuffled)).Message);
        Assert.Contains("version 3", Assert.Throws<InvalidDataException>(() => ExperimentSnapshotCodec.FromSnapshot(new ExperimentSnapshotV1(3, "{}"))).Message);
    }

    /// <summary>
    /// A journal holding only a snapshot, as Akka.Persistence.Sql stores one (older versions included): `status`
    /// reads it, and the experiment actor recovers from it (SnapshotOffer) on a real node.
    /// </summary>
    [Theory]
    [InlineData(Version1)]
    [InlineData(Current)]
    public async Task A_stored_snapshot_of_either_version_recovers_in_status_and_in_the_experiment_actor(string file)
    {
        using var db = new TestDatabase("sqlite");
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.True(CliApp.Run(["search", "--space", "mnv2-edgetpu-classification", "--name", "schema", "--trials", "2", "--batch", "2", "--quality", "synthetic",
            "--db", db.Url], o, e) == 0, e.ToString()); // Akka.Persistence.Sql creates its tables
        SqliteConnection.ClearAllPools();
        using (var c = new SqliteConnection($"Data Source={db.Url}"))
        {
            c.Open();
            using var insert = c.CreateCommand();
            insert.CommandText = "INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) VALUES ($p, 500, $t, $s, $m, $i)";
            insert.Parameters.AddWithValue("$p", PersistenceIdOf("golden"));
            insert.Parameters.AddWithValue("$t", DateTime.UtcNow.Ticks);
            insert.Parameters.AddWithValue("$s", File.ReadAllBytes(Golden(file)));
            insert.Parameters.AddWithValue("$m", file[..^"-ledger.json".Length]);
            insert.Parameters.AddWithValue("$i", NasSerializer.Id);
            insert.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();

        (o, e) = (new StringWriter(), new StringWriter());
        Assert.True(CliApp.Run(["status", "golden", "--db", db.Url, "--json"], o, e) == 0, e.ToString());
        using (var doc = JsonDocument.Parse(o.ToString()))
        {
            var root = doc.RootElement;
            Assert.Equal("finished", root.GetProperty("state").GetString());
            Assert.Equal((47, 13), (root.GetProperty("trials_completed").GetInt32(), root.GetProperty("trials_failed").GetInt32()));
            Assert.Equal(60, root.GetProperty("trials").GetArrayLength());
        }

        await using var node = await Nodes.Start(db.Url, ["coordinator", "evaluator"]);
        var reply = await node.Registry.Ask<ExperimentStateReply>(new GetExperimentState("golden"), TimeSpan.FromSeconds(30));
        Assert.NotNull(reply.Snapshot);
        Assert.Equal(Encoding.UTF8.GetString(CurrentBytes()), Encoding.UTF8.GetString(NasSerializer.ToBytes(reply.Snapshot)));
    }
}
