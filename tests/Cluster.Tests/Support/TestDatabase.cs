using NasCluster.NodeHosting;
using Npgsql;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// A database owned by one test: a SQLite file in its own directory, or a fresh PostgreSQL database on the
/// server named by NASCLUSTER_TEST_PG (scripts/test.sh installs and starts one and sets it), dropped at the end.
/// </summary>
public sealed class TestDatabase : IDisposable
{
    public const string PostgresVariable = "NASCLUSTER_TEST_PG";

    private readonly string? _pgAdmin;
    private readonly string? _pgName;

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public TestDatabase(string backend)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("nas-db-").FullName;
        if (backend == "sqlite")
        {
            Url = Path.Combine(Directory, "experiments.db");
            return;
        }
        var admin = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrEmpty(admin))
            throw new InvalidOperationException($"PostgreSQL tests need {PostgresVariable}=postgres://user:password@host:port/postgres " +
                                                "(scripts/test.sh installs and starts a server and sets it)");
        _pgAdmin = NodeConfig.ParseDb(admin).ConnectionString;
        _pgName = "nas_" + Guid.NewGuid().ToString("N")[..16];
        using (var c = new NpgsqlConnection(_pgAdmin))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"CREATE DATABASE {_pgName}";
            cmd.ExecuteNonQuery();
        }
        var uri = new Uri(admin);
        Url = new UriBuilder(uri) { Path = "/" + _pgName }.Uri.ToString();
    }

    /// <summary>A directory the test may use for anything else (space files, logs).</summary>
    public string Directory { get; }

    /// <summary>What `--db` takes: a file path or a postgres:// URL.</summary>
    public string Url { get; }

    public DatabaseTarget Target => NodeConfig.ParseDb(Url);

    public bool IsPostgres => _pgName is not null;

    public void Dispose()
    {
        if (_pgName is not null)
        {
            NpgsqlConnection.ClearAllPools();
            using var c = new NpgsqlConnection(_pgAdmin);
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"DROP DATABASE IF EXISTS {_pgName} WITH (FORCE)";
            cmd.ExecuteNonQuery();
        }
        try
        {
            System.IO.Directory.Delete(Directory, true);
        }
        catch (IOException)
        {
            // a child process may still hold a log file open for a moment; the OS cleans temp
        }
    }
}
