using System.Data.Common;
using Microsoft.Data.Sqlite;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using Npgsql;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>Reads an experiment's raw journal, to check the ledger's promises event by event.</summary>
public static class Journal
{
    public static IReadOnlyList<IExperimentEvent> Events(DatabaseTarget db, string experiment)
    {
        if (!TableExists(db)) return [];
        using var c = Open(db);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT message, manifest FROM journal WHERE persistence_id = @p ORDER BY sequence_number";
        var p = cmd.CreateParameter();
        p.ParameterName = "@p";
        p.Value = PersistenceIdOf(experiment);
        cmd.Parameters.Add(p);
        var events = new List<IExperimentEvent>();
        try
        {
            using var r = cmd.ExecuteReader();
            while (r.Read()) events.Add((IExperimentEvent)NasSerializer.FromBytes((byte[])r.GetValue(0), r.GetString(1)));
        }
        catch (DbException) when (!TableExists(db))
        {
            // no journal yet
        }
        return events;
    }

    /// <summary>How many results of each kind the journal holds, cheaply (for polling a running search).</summary>
    public static int Count(DatabaseTarget db, string experiment, string manifest)
    {
        if (!TableExists(db)) return 0;
        using var c = Open(db);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = @p AND manifest = @m";
        foreach (var (n, v) in new[] { ("@p", PersistenceIdOf(experiment)), ("@m", manifest) })
        {
            var p = cmd.CreateParameter();
            p.ParameterName = n;
            p.Value = v;
            cmd.Parameters.Add(p);
        }
        return Convert.ToInt32(cmd.ExecuteScalar());
    }

    /// <summary>
    /// The ledger's promises, checked on the events: every trial proposed once and accounted for once — a
    /// cost and a quality recorded at most once each, and either both (completed), a failure, or a reuse.
    /// </summary>
    public static void AssertEveryTrialAccountedOnce(IReadOnlyList<IExperimentEvent> events, int trials) =>
        Assert.Empty(NasCluster.Coordinator.Experiments.LedgerAudit.Check(events, trials));

    private static bool TableExists(DatabaseTarget db)
    {
        if (db.IsSqlite && !File.Exists(db.SqlitePath)) return false;
        using var c = Open(db);
        using var cmd = c.CreateCommand();
        cmd.CommandText = db.IsSqlite
            ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal'"
            : "SELECT 1 FROM information_schema.tables WHERE table_name = 'journal'";
        return cmd.ExecuteScalar() is not null;
    }

    private static DbConnection Open(DatabaseTarget db)
    {
        DbConnection c = db.IsSqlite ? new SqliteConnection($"Data Source={db.SqlitePath};Mode=ReadOnly") : new NpgsqlConnection(db.ConnectionString);
        c.Open();
        return c;
    }
}
