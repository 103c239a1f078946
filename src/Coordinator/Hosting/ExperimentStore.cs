using System.Data.Common;
using Microsoft.Data.Sqlite;
using NasCluster.Coordinator.Experiments;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using Npgsql;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Hosting;

/// <summary>How an experiment stands, as <c>status</c> and <c>list</c> report it.</summary>
public enum ExperimentCondition
{
    /// <summary>A coordinator holds the experiment's lock and is working on it.</summary>
    Running,

    /// <summary>Every trial is accounted for.</summary>
    Finished,

    /// <summary>Not finished and not running: stopped or crashed; <c>resume</c> continues it.</summary>
    Interrupted,
}

/// <summary>
/// One experiment read from the journal: its state, how it stands, how much journal it took, and every
/// attempt that was preempted (its node left the cluster) — from the journal, which keeps them all.
/// </summary>
public sealed record StoredExperiment(string Name, ExperimentState State, ExperimentCondition Condition, long Events, long JournalBytes, long? SnapshotSequenceNr,
    IReadOnlyList<AttemptPreempted>? Preemptions = null)
{
    public IReadOnlyList<AttemptPreempted> Preempted => Preemptions ?? [];

    /// <summary>How many distinct trials had an attempt preempted.</summary>
    public int PreemptedTrials => Preempted.Select(p => p.TrialId).Distinct().Count();
}

/// <summary>
/// Reads experiments straight from the journal and snapshot tables Akka.Persistence.Sql writes — the latest
/// snapshot plus the events after it, folded with <see cref="ExperimentState.Apply"/> exactly as the
/// experiment actor recovers. Read-only, and short transactions: <c>status</c> and <c>list</c> work while a
/// search runs (SQLite in WAL mode never blocks the writer) without disturbing it.
/// </summary>
public static class ExperimentStore
{
    private const string Prefix = "experiment-";

    /// <summary>Names of the experiments in the database (empty if it has none).</summary>
    /// <exception cref="NasInputException">The database cannot be opened.</exception>
    public static IReadOnlyList<string> Names(DatabaseTarget db) => Reading(db, () =>
    {
        using var connection = Open(db);
        if (!TableExists(connection, db, "journal")) return [];
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT DISTINCT persistence_id FROM journal WHERE persistence_id LIKE 'experiment-%' ORDER BY persistence_id";
        var names = new List<string>();
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) names.Add(reader.GetString(0)[Prefix.Length..]);
        return (IReadOnlyList<string>)names;
    });

    /// <summary>
    /// Each experiment's last journal sequence number: one cheap query that tells a watcher (the dashboard)
    /// which experiments changed since it last looked. Empty for a database without experiments.
    /// </summary>
    /// <exception cref="NasInputException">The database cannot be opened or read.</exception>
    public static IReadOnlyDictionary<string, long> Versions(DatabaseTarget db) => Reading(db, () =>
    {
        using var connection = Open(db);
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        if (!TableExists(connection, db, "journal")) return (IReadOnlyDictionary<string, long>)versions;
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT persistence_id, MAX(sequence_number) FROM journal WHERE persistence_id LIKE 'experiment-%' GROUP BY persistence_id";
        using var reader = cmd.ExecuteReader();
        while (reader.Read()) versions[reader.GetString(0)[Prefix.Length..]] = reader.GetInt64(1);
        return versions;
    });

    public static bool Exists(DatabaseTarget db, string name) => Reading(db, () =>
    {
        using var connection = Open(db);
        if (!TableExists(connection, db, "journal")) return false;
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT 1 FROM journal WHERE persistence_id = @p LIMIT 1";
        Parameter(cmd, "@p", PersistenceIdOf(name));
        return cmd.ExecuteScalar() is not null;
    });

    /// <exception cref="NasInputException">Unknown experiment, or the database cannot be opened or read.</exception>
    public static StoredExperiment Load(DatabaseTarget db, string name) => Reading(db, () => LoadUnguarded(db, name));

    private static StoredExperiment LoadUnguarded(DatabaseTarget db, string name)
    {
        using var connection = Open(db);
        var pid = PersistenceIdOf(name);
        if (!TableExists(connection, db, "journal")) throw Unknown(db, name);
        // One read transaction, so the snapshot and the events after it are one consistent picture.
        using var tx = connection.BeginTransaction(db.IsSqlite ? System.Data.IsolationLevel.Serializable : System.Data.IsolationLevel.RepeatableRead);
        ExperimentState? state = null;
        long? snapshotSeq = null;
        if (TableExists(connection, db, "snapshot"))
        {
            using var snap = connection.CreateCommand();
            snap.Transaction = tx;
            snap.CommandText = "SELECT sequence_number, snapshot, manifest FROM snapshot WHERE persistence_id = @p ORDER BY sequence_number DESC LIMIT 1";
            Parameter(snap, "@p", pid);
            using var r = snap.ExecuteReader();
            if (r.Read())
            {
                snapshotSeq = r.GetInt64(0);
                state = ExperimentSnapshotCodec.FromSnapshot(NasSerializer.FromBytes((byte[])r.GetValue(1), r.GetString(2)));
            }
        }
        long events = 0, bytes = 0;
        using (var cmd = connection.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "SELECT sequence_number, message, manifest FROM journal WHERE persistence_id = @p AND sequence_number > @s ORDER BY sequence_number";
            Parameter(cmd, "@p", pid);
            Parameter(cmd, "@s", snapshotSeq ?? 0);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var payload = (byte[])r.GetValue(1);
                var e = (IExperimentEvent)NasSerializer.FromBytes(payload, r.GetString(2));
                state = e is ExperimentCreated created ? ExperimentState.Created(created) : state?.Apply(e)
                    ?? throw new InvalidDataException($"experiment '{name}': event {r.GetInt64(0)} ({r.GetString(2)}) precedes its creation");
            }
        }
        var preempted = ReadEvents<AttemptPreempted>(connection, tx, name);
        using (var size = connection.CreateCommand())
        {
            size.Transaction = tx;
            size.CommandText = db.IsSqlite
                ? "SELECT COUNT(*), COALESCE(SUM(LENGTH(message)), 0) FROM journal WHERE persistence_id = @p"
                : "SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(message)), 0) FROM journal WHERE persistence_id = @p";
            Parameter(size, "@p", pid);
            using var r = size.ExecuteReader();
            r.Read();
            (events, bytes) = (r.GetInt64(0), r.GetInt64(1));
        }
        tx.Commit();
        if (state is null) throw Unknown(db, name);
        return new StoredExperiment(name, state, ConditionOf(db, name, state.Finished), events, bytes, snapshotSeq, preempted);
    }

    /// <summary>Finished by its journal; otherwise running while some process holds its lock, else interrupted.</summary>
    public static ExperimentCondition ConditionOf(DatabaseTarget db, string name, bool finished) =>
        finished ? ExperimentCondition.Finished
        : ExperimentLock.IsHeld(db, name) ? ExperimentCondition.Running
        : ExperimentCondition.Interrupted;

    /// <summary>
    /// Every controller update of an experiment, in order, from the journal's first event (snapshots replace
    /// the ledger, not the journal, so the whole history is there): what the report draws the controller's
    /// learning from. Empty for an experiment that has not observed a batch yet.
    /// </summary>
    /// <exception cref="NasInputException">Unknown experiment, or the database cannot be opened or read.</exception>
    public static IReadOnlyList<ControllerUpdated> ControllerSteps(DatabaseTarget db, string name) => JournalEvents<ControllerUpdated>(db, name);

    /// <summary>Every event of an experiment's journal, in order (for audits: <see cref="Experiments.LedgerAudit"/>).</summary>
    /// <exception cref="NasInputException">Unknown experiment, or the database cannot be opened or read.</exception>
    public static IReadOnlyList<IExperimentEvent> Events(DatabaseTarget db, string name) => JournalEvents<IExperimentEvent>(db, name);

    /// <summary>The experiment's events of type <typeparamref name="T"/> (all of them for the event interface), in journal order.</summary>
    private static List<T> JournalEvents<T>(DatabaseTarget db, string name) where T : IExperimentEvent => Reading(db, () =>
    {
        using var connection = Open(db);
        if (!TableExists(connection, db, "journal")) throw Unknown(db, name);
        return ReadEvents<T>(connection, null, name);
    });

    /// <summary>The query behind <see cref="JournalEvents{T}"/>, on an open connection (inside <see cref="Load"/>'s read transaction there).</summary>
    private static List<T> ReadEvents<T>(DbConnection connection, DbTransaction? tx, string name) where T : IExperimentEvent
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        var one = typeof(T) != typeof(IExperimentEvent);
        cmd.CommandText = "SELECT message, manifest FROM journal WHERE persistence_id = @p" + (one ? " AND manifest = @m" : "") + " ORDER BY sequence_number";
        Parameter(cmd, "@p", PersistenceIdOf(name));
        if (one) Parameter(cmd, "@m", NasSerializer.Manifests[typeof(T)]);
        var events = new List<T>();
        using var r = cmd.ExecuteReader();
        while (r.Read()) events.Add((T)NasSerializer.FromBytes((byte[])r.GetValue(0), r.GetString(1)));
        return events;
    }

    /// <summary>How many trials of an experiment are accounted for (a result pair, a reuse or a failure) — a cheap count for following progress.</summary>
    public static long Progress(DatabaseTarget db, string name) => Reading(db, () =>
    {
        using var connection = Open(db);
        if (!TableExists(connection, db, "journal")) return 0L;
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = @p AND manifest IN (@q, @r, @f)";
        Parameter(cmd, "@p", PersistenceIdOf(name));
        Parameter(cmd, "@q", NasSerializer.Manifests[typeof(QualityRecorded)]);
        Parameter(cmd, "@r", NasSerializer.Manifests[typeof(TrialReused)]);
        Parameter(cmd, "@f", NasSerializer.Manifests[typeof(TrialFailed)]);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    });

    /// <summary>
    /// Runs a read and turns what a damaged database throws — a file that is not SQLite, corrupt pages, a
    /// journal row that does not decode — into one error naming the database. Reads never write, so the
    /// file is left exactly as it was.
    /// </summary>
    private static T Reading<T>(DatabaseTarget db, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 26 or 11)
        {
            throw new NasInputException($"not a NasCluster database, or it is corrupt ({e.Message.TrimEnd('.')})", db.Display);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 14 or 8 && db.SqlitePath is { } path && !Database.WritableFolder(Path.GetDirectoryName(path)!))
        {
            throw new NasInputException("the database is on a read-only disk or folder, where SQLite cannot read a WAL-mode database " +
                                        "(it needs its -shm file beside it): make it writable, or copy the database (with its -wal file) to a writable place", db.Display);
        }
        catch (SqliteException e)
        {
            throw new NasInputException($"cannot read the database: {e.Message}", db.Display);
        }
        catch (Exception e) when (e is System.Runtime.Serialization.SerializationException or System.Text.Json.JsonException or InvalidDataException
                                      or InvalidCastException)
        {
            throw new NasInputException($"the journal holds a record that cannot be read ({e.Message})", db.Display);
        }
    }

    private static NasInputException Unknown(DatabaseTarget db, string name) =>
        new($"unknown experiment '{name}' (see `nascluster list --db {db.Display}`)", db.Display);

    private static DbConnection Open(DatabaseTarget db)
    {
        if (db.IsSqlite)
        {
            if (!File.Exists(db.SqlitePath)) throw new NasInputException("no such database (start one with `nascluster search`, or pass --db)", db.Display);
            try
            {
                var c = new SqliteConnection($"Data Source={db.SqlitePath};Mode=ReadOnly;Default Timeout=10");
                c.Open();
                return c;
            }
            catch (SqliteException e)
            {
                throw new NasInputException($"cannot open the database: {e.Message}", db.Display);
            }
        }
        try
        {
            var c = new NpgsqlConnection(db.ConnectionString);
            c.Open();
            return c;
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            throw new NasInputException($"cannot reach the PostgreSQL database: {e.Message}", db.Display);
        }
    }

    private static bool TableExists(DbConnection c, DatabaseTarget db, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = db.IsSqlite
            ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = @t"
            : "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @t";
        Parameter(cmd, "@t", table);
        return cmd.ExecuteScalar() is not null;
    }

    private static void Parameter(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }
}
