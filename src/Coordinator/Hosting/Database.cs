using Microsoft.Data.Sqlite;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;
using Npgsql;

namespace NasCluster.Coordinator.Hosting;

/// <summary>
/// Checks and prepares the experiment database before any actor touches it, so an unreachable, locked
/// or unwritable database is one clear error instead of journal circuit breakers and ask timeouts.
/// </summary>
public static class Database
{
    public static void Prepare(DatabaseTarget db, bool create = true)
    {
        if (db.IsSqlite) PrepareSqlite(db, create);
        else CheckPostgres(db);
    }

    private static void PrepareSqlite(DatabaseTarget db, bool create)
    {
        var path = db.SqlitePath!;
        if (!create && !File.Exists(path)) throw new NasInputException("no such database (run `nascluster search` first, or pass --db)", path);
        try
        {
            var dir = Path.GetDirectoryName(path);
            if (dir is not null) Directory.CreateDirectory(dir);
            using var connection = new SqliteConnection($"Data Source={path};Default Timeout=3;Mode={(create ? "ReadWriteCreate" : "ReadWrite")}");
            connection.Open();
            using (var check = connection.CreateCommand())
            {
                // Before anything writes: a file that is not SQLite, or one with damaged pages, fails here unchanged
                // (quick_check reads every page once: milliseconds for an experiment's journal).
                check.CommandText = "PRAGMA quick_check(1);";
                if (check.ExecuteScalar() is string result && result != "ok")
                    throw new NasInputException(
                        $"not a NasCluster database, or it is corrupt (quick_check: {string.Join(' ', result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))})", path);
            }
            using (var wal = connection.CreateCommand())
            {
                wal.CommandText = "PRAGMA journal_mode=WAL;"; // persistent in the file: readers never block the writer
                wal.ExecuteNonQuery();
            }
            using var probe = connection.CreateCommand();
            probe.CommandText = "BEGIN IMMEDIATE; ROLLBACK;";
            probe.ExecuteNonQuery();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6)
        {
            throw new NasInputException("the database is locked by another process (try again when it finishes, or use another --db)", path);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 26 or 11)
        {
            throw new NasInputException($"not a NasCluster database, or it is corrupt ({e.Message.TrimEnd('.')})", path);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            if (e is SqliteException { SqliteErrorCode: 8 or 14 } or IOException or UnauthorizedAccessException && !WritableFolder(Path.GetDirectoryName(Path.GetFullPath(path))!))
                throw new NasInputException("the database is on a read-only disk or folder (SQLite writes its -wal and -shm files beside it): " +
                                            "make it writable, or copy the database to a writable place and pass that --db", path);
            throw new NasInputException($"cannot open the database: {e.Message}", path);
        }
    }

    internal static bool WritableFolder(string folder)
    {
        var probe = Path.Combine(folder, $".nascluster-write-probe-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void CheckPostgres(DatabaseTarget db)
    {
        try
        {
            using var connection = new NpgsqlConnection(db.ConnectionString);
            connection.Open();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            throw new NasInputException($"cannot reach the PostgreSQL database: {e.Message}", db.Display);
        }
    }
}

/// <summary>
/// One running copy of an experiment at a time: a second `search`/`resume` of the same experiment (in this
/// or another process) is refused instead of racing the first on the journal. SQLite: an exclusive lock
/// file beside the database; PostgreSQL: a session advisory lock.
/// </summary>
public sealed class ExperimentLock : IDisposable
{
    private readonly FileStream? _file;
    private readonly NpgsqlConnection? _connection;

    private ExperimentLock(FileStream? file, NpgsqlConnection? connection) => (_file, _connection) = (file, connection);

    public static ExperimentLock Acquire(DatabaseTarget db, string experiment)
    {
        if (db.IsSqlite)
        {
            var path = LockPath(db, experiment);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            try
            {
                // Exclusive: on Linux .NET maps FileShare to flock, and a shared holder would admit a second one.
                var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return new ExperimentLock(file, null);
            }
            catch (IOException e) when (IsSharingViolation(e))
            {
                throw new NasInputException($"experiment '{experiment}' is already running in another process; watch it with `nascluster status {experiment}`", db.Display);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new NasInputException(Database.WritableFolder(Path.GetDirectoryName(path)!)
                    ? $"cannot take the experiment's lock {path}: {e.Message}"
                    : "the database is on a read-only disk or folder (the experiment's lock file, and SQLite's -wal and -shm files, are written beside it): " +
                      "make it writable, or copy the database to a writable place and pass that --db", db.Display);
            }
        }
        var connection = new NpgsqlConnection(db.ConnectionString);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT pg_try_advisory_lock(hashtext(@k))";
        cmd.Parameters.AddWithValue("k", $"nascluster:{experiment}");
        if (cmd.ExecuteScalar() is not true)
        {
            connection.Dispose();
            throw new NasInputException($"experiment '{experiment}' is already running on another node; watch it with `nascluster status {experiment}`", db.Display);
        }
        return new ExperimentLock(null, connection);
    }

    /// <summary>Another process holds the lock (flock contention), as opposed to a file that cannot be opened at all.</summary>
    private static bool IsSharingViolation(IOException e) => e.HResult == unchecked((int)0x80070020) || e is not FileNotFoundException && e.Message.Contains("being used by another process", StringComparison.Ordinal);

    /// <summary>Whether some process holds the experiment's lock right now (for `status`).</summary>
    public static bool IsHeld(DatabaseTarget db, string experiment)
    {
        if (db.IsSqlite)
        {
            var path = LockPath(db, experiment);
            if (!File.Exists(path)) return false;
            try
            {
                using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return false;
            }
            catch (IOException e) when (IsSharingViolation(e))
            {
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false; // a read-only disk: no process can be writing this experiment
            }
        }
        using var connection = new NpgsqlConnection(db.ConnectionString);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT pg_try_advisory_lock(hashtext(@k))";
        cmd.Parameters.AddWithValue("k", $"nascluster:{experiment}");
        if (cmd.ExecuteScalar() is true)
        {
            using var unlock = connection.CreateCommand();
            unlock.CommandText = "SELECT pg_advisory_unlock(hashtext(@k))";
            unlock.Parameters.AddWithValue("k", $"nascluster:{experiment}");
            unlock.ExecuteScalar();
            return false;
        }
        return true;
    }

    private static string LockPath(DatabaseTarget db, string experiment) =>
        Path.Combine(db.SqlitePath + ".locks", Uri.EscapeDataString(experiment) + ".lock");

    public void Dispose()
    {
        _file?.Dispose();
        _connection?.Dispose();
    }
}
