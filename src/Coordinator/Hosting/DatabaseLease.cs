using Microsoft.Data.Sqlite;
using NasCluster.NodeHosting;
using NasCluster.NodeHosting.Downing;
using Npgsql;

namespace NasCluster.Coordinator.Hosting;

/// <summary>
/// The referee lease (<see cref="ICoordinatorLease"/>) as one row of the experiment database: taking or
/// renewing it is one atomic upsert that succeeds only when the row is free, ran out, or is already the
/// owner's. Expiry is measured on the database's own clock, so the nodes' clocks need not agree. Named in
/// hocon/coordinator.conf and standalone.conf (<c>nascluster.downing.lease-class</c>).
/// </summary>
public sealed class DatabaseLease : ICoordinatorLease
{
    private const string Name = "referee";
    private const string SqliteNowMs = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
    private const string PostgresNowMs = "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)";

    private readonly DatabaseTarget _db;
    private bool _created;

    public DatabaseLease(DatabaseTarget db) => _db = db;

    public Task<LeaseAnswer> TryAcquireAsync(string owner, TimeSpan ttl) => Task.Run(() =>
    {
        try
        {
            return _db.IsSqlite ? Sqlite(owner, ttl) : Postgres(owner, ttl);
        }
        catch (Exception e) when (e is SqliteException or NpgsqlException or InvalidOperationException or TimeoutException or IOException)
        {
            return new LeaseAnswer(LeaseOutcome.Unavailable, Error: e.Message);
        }
    });

    private LeaseAnswer Sqlite(string owner, TimeSpan ttl)
    {
        // A short busy timeout: a lease that cannot be asked within a few seconds is "unavailable", not a hang.
        using var connection = new SqliteConnection($"Data Source={_db.SqlitePath};Default Timeout=3");
        connection.Open();
        return Upsert(connection, owner, ttl, SqliteNowMs, "INTEGER", "$");
    }

    private LeaseAnswer Postgres(string owner, TimeSpan ttl)
    {
        using var connection = new NpgsqlConnection(_db.ConnectionString);
        connection.Open();
        return Upsert(connection, owner, ttl, PostgresNowMs, "BIGINT", "@");
    }

    private LeaseAnswer Upsert(System.Data.Common.DbConnection connection, string owner, TimeSpan ttl, string nowMs, string integer, string p)
    {
        if (!_created)
        {
            using var create = connection.CreateCommand();
            create.CommandText = $"CREATE TABLE IF NOT EXISTS nascluster_lease (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms {integer} NOT NULL)";
            try
            {
                create.ExecuteNonQuery();
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // Two coordinators created the table at the same moment: it exists now.
            }
            _created = true;
        }
        using var upsert = connection.CreateCommand();
        upsert.CommandText = $"""
            INSERT INTO nascluster_lease (name, owner, expires_ms) VALUES ({p}name, {p}owner, {nowMs} + {p}ttl)
            ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
            WHERE nascluster_lease.owner = excluded.owner OR nascluster_lease.expires_ms < {nowMs}
            """;
        Add(upsert, "name", Name);
        Add(upsert, "owner", owner);
        Add(upsert, "ttl", (long)ttl.TotalMilliseconds);
        upsert.ExecuteNonQuery();
        using var read = connection.CreateCommand();
        read.CommandText = $"SELECT owner FROM nascluster_lease WHERE name = {p}name";
        Add(read, "name", Name);
        var holder = read.ExecuteScalar() as string;
        return holder == owner ? new LeaseAnswer(LeaseOutcome.Held, holder) : new LeaseAnswer(LeaseOutcome.HeldByOther, holder);
    }

    private static void Add(System.Data.Common.DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    public void Dispose()
    {
    }
}
