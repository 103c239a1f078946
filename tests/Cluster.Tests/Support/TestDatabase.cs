using NasCluster.NodeHosting;
using Npgsql;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// The PostgreSQL row of a backend theory (beside <c>[InlineData("sqlite")]</c>). Without a server to run it
/// against it is skipped with a message saying how to run it — unless NASCLUSTER_REQUIRE_PG is set, as
/// scripts/test.sh (and so CI) sets it: there a missing or unreachable server is a failure, never a skip.
/// Its display name carries "postgres", which is how the test tiers select it (no other test name may).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresDataAttribute : Xunit.Sdk.DataAttribute
{
    public PostgresDataAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(TestDatabase.PostgresVariable))
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NASCLUSTER_REQUIRE_PG")))
            Skip = $"PostgreSQL case: {TestDatabase.PostgresVariable} is not set. Run scripts/test.sh (it starts a server), or " +
                   $"{TestDatabase.PostgresVariable}=$(scripts/postgres.sh) dotnet test tests/Cluster.Tests";
    }

    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod) => [["postgres"]];
}

/// <summary>
/// A database owned by one test: a SQLite file in its own directory, or a fresh PostgreSQL database on the
/// server named by NASCLUSTER_TEST_PG (scripts/test.sh installs and starts one and sets it), dropped at the end.
/// </summary>
public sealed class TestDatabase : IDisposable
{
    public const string PostgresVariable = "NASCLUSTER_TEST_PG";

    private readonly string? _pgAdmin;
    private readonly string? _pgName;

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
