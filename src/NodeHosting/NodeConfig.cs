using System.Reflection;
using Akka.Configuration;
using NasCluster.Shared.Util;

namespace NasCluster.NodeHosting;

/// <summary>Where experiments are persisted: a SQLite file or a PostgreSQL database. <see cref="Display"/> never holds a password.</summary>
public sealed record DatabaseTarget(string Provider, string ConnectionString, string Display, string? SqlitePath)
{
    /// <summary>The password came on the command line (visible in `ps`): the CLI warns.</summary>
    public bool PasswordInUrl { get; init; }

    /// <summary>The connection string, which may hold the password, is never shown.</summary>
    public override string ToString() => Display;

    public bool IsSqlite => Provider == "sqlite";

    /// <summary>
    /// Where files that belong with the experiments go by default (reports, exports, kept weights): the
    /// SQLite database's folder, so they move with it; for PostgreSQL the current directory.
    /// </summary>
    public string LocalDirectory => IsSqlite && SqlitePath is not null ? Path.GetDirectoryName(Path.GetFullPath(SqlitePath))! : Directory.GetCurrentDirectory();
}

/// <summary>One node's settings; every field has a command-line option and an environment variable.</summary>
public sealed record NodeOptions
{
    public IReadOnlyList<string> Roles { get; init; } = ["coordinator", "evaluator", "trainer"];
    /// <summary>Address to bind and advertise; null: the configuration's (127.0.0.1 unless a --config file says otherwise).</summary>
    public string? Host { get; init; }

    /// <summary>Port; null: the configuration's (0, any free port, unless a --config file says otherwise).</summary>
    public int? Port { get; init; }
    public IReadOnlyList<string> Seeds { get; init; } = [];
    public string Db { get; init; } = NodeConfig.DefaultDb;
    public int TrainerSlots { get; init; } = 1;

    /// <summary>Threads of the evaluator dispatcher (0: the machine's cores).</summary>
    public int EvaluatorThreads { get; init; }
    public string? ExtraConfigFile { get; init; }

    /// <summary>Mutual TLS on the cluster transport (null: plain TCP, for a trusted network).</summary>
    public Tls.NodeTls? Tls { get; init; }

    /// <summary>No seed nodes given: the node forms a new cluster by joining itself (standalone, or a cluster's first coordinator), unless a --config file names seeds.</summary>
    public bool JoinsItself => Seeds.Count == 0;
}

/// <summary>
/// Builds a node's Akka configuration from the files in <c>hocon/</c> (embedded in this assembly) and the
/// node's options, each layer over the ones before: <c>cluster.conf</c>, the role file, the persistence
/// file, a <c>--config</c> file, then what was given on the command line or in the environment
/// (NASCLUSTER_HOST, NASCLUSTER_PORT, NASCLUSTER_SEEDS (comma-separated), NASCLUSTER_DB,
/// NASCLUSTER_ROLES, NASCLUSTER_SLOTS, NASCLUSTER_CONFIG, NASCLUSTER_TLS_CERT/_KEY/_CA). Options not
/// given leave the files' values.
/// The database always comes from --db (default ./nascluster.db).
/// </summary>
public static class NodeConfig
{
    public const string SystemName = "nascluster";
    public const string DefaultDb = "./nascluster.db";

    public static string Resource(string name)
    {
        using var stream = typeof(NodeConfig).Assembly.GetManifestResourceStream($"hocon/{name}")
            ?? throw new InvalidOperationException($"hocon/{name} is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Applies environment variables to options the user did not give on the command line.</summary>
    public static NodeOptions FromEnvironment(NodeOptions o, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (env("NASCLUSTER_HOST") is { Length: > 0 } host) o = o with { Host = host };
        if (env("NASCLUSTER_PORT") is { Length: > 0 } port)
            o = o with { Port = int.TryParse(port, out var p) && p is >= 0 and <= 65535 ? p : throw new NasInputException($"NASCLUSTER_PORT must be a port number (got '{port}')") };
        if (env("NASCLUSTER_SEEDS") is { Length: > 0 } seeds) o = o with { Seeds = seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        if (env("NASCLUSTER_DB") is { Length: > 0 } db) o = o with { Db = db };
        if (env("NASCLUSTER_ROLES") is { Length: > 0 } roles) o = o with { Roles = ParseRoles(roles) };
        if (env("NASCLUSTER_SLOTS") is { Length: > 0 } slots)
            o = o with { TrainerSlots = int.TryParse(slots, out var s) && s >= 1 ? s : throw new NasInputException($"NASCLUSTER_SLOTS must be a positive integer (got '{slots}')") };
        if (env("NASCLUSTER_CONFIG") is { Length: > 0 } file) o = o with { ExtraConfigFile = file };
        string? Env(string name) => env(name) is { Length: > 0 } v ? v : null;
        if (Tls.NodeTls.From(Env("NASCLUSTER_TLS_CERT"), Env("NASCLUSTER_TLS_KEY"), Env("NASCLUSTER_TLS_CA")) is { } tls) o = o with { Tls = tls };
        return o;
    }

    /// <summary>
    /// <c>postgres://user@host:port/database</c> (or an Npgsql "Host=…" string) is PostgreSQL; anything else
    /// is a SQLite file path. The password does not belong on the command line, where `ps` shows it to every
    /// user: it comes from NASCLUSTER_DB_PASSWORD, else the file named by NASCLUSTER_DB_PASSWORD_FILE, else
    /// Npgsql's password file (PGPASSFILE or ~/.pgpass). A password inside the URL still works, with a
    /// warning from the command line (<see cref="DatabaseTarget.PasswordInUrl"/>). The password is in the
    /// connection string only, never in <see cref="DatabaseTarget.Display"/>.
    /// </summary>
    public static DatabaseTarget ParseDb(string db, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (string.IsNullOrWhiteSpace(db)) throw new NasInputException("--db must not be empty");
        if (db.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || db.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(db, UriKind.Absolute, out var uri) || uri.AbsolutePath.Trim('/').Length == 0)
                throw new NasInputException("--db: expected postgres://user@host:port/database (the password from NASCLUSTER_DB_PASSWORD, NASCLUSTER_DB_PASSWORD_FILE or ~/.pgpass)");
            var userInfo = uri.UserInfo.Split(':', 2);
            var user = Uri.UnescapeDataString(userInfo[0]);
            var inUrl = userInfo.Length > 1 && userInfo[1].Length > 0;
            var password = inUrl ? Uri.UnescapeDataString(userInfo[1]) : PasswordFromEnvironment(env);
            var port = uri.Port > 0 ? uri.Port : 5432;
            var database = uri.AbsolutePath.Trim('/');
            var cs = new System.Data.Common.DbConnectionStringBuilder
            {
                ["Host"] = uri.Host, ["Port"] = port, ["Database"] = database, ["Username"] = user, ["Timeout"] = 5,
            };
            if (password is not null) cs["Password"] = password; // else Npgsql reads PGPASSFILE or ~/.pgpass
            return new DatabaseTarget("postgres", cs.ConnectionString, $"postgres://{user}@{uri.Host}:{port}/{database}", null) { PasswordInUrl = inUrl };
        }
        if (db.StartsWith("Host=", StringComparison.OrdinalIgnoreCase))
            return new DatabaseTarget("postgres", db, "postgres (connection string)", null)
            { PasswordInUrl = db.Contains("password=", StringComparison.OrdinalIgnoreCase) };
        var path = Path.GetFullPath(db);
        return new DatabaseTarget("sqlite", $"Data Source={path};Default Timeout=30", path, path);
    }

    private static string? PasswordFromEnvironment(Func<string, string?> env)
    {
        if (env("NASCLUSTER_DB_PASSWORD") is { Length: > 0 } password) return password;
        if (env("NASCLUSTER_DB_PASSWORD_FILE") is not { Length: > 0 } file) return null;
        try
        {
            return File.ReadAllText(file).TrimEnd('\r', '\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NasInputException($"cannot read the database password file: {e.Message}", file);
        }
    }

    public static Config Build(NodeOptions o, string? extraHocon = null)
    {
        var db = ParseDb(o.Db);
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var roles = string.Join(", ", o.Roles.Select(Q));
        var seeds = string.Join(", ", o.Seeds.Select(s => Q(SeedAddress(s, o.Tls is not null))));
        var overrides = $$"""
            {{(o.Host is null ? "" : $"akka.remote.dot-netty.tcp.hostname = {Q(o.Host)}")}}
            {{(o.Port is null ? "" : $"akka.remote.dot-netty.tcp.port = {o.Port}")}}
            {{(o.Tls is null ? "" : "akka.remote.dot-netty.tcp.enable-ssl = on")}}
            akka.cluster.roles = [{{roles}}]
            {{(o.Seeds.Count == 0 ? "" : $"akka.cluster.seed-nodes = [{seeds}]")}}
            akka.persistence.journal.sql.connection-string = {{Q(db.ConnectionString)}}
            akka.persistence.snapshot-store.sql.connection-string = {{Q(db.ConnectionString)}}
            nascluster.db = {{Q(o.Db)}}
            nascluster.trainer.slots = {{o.TrainerSlots}}
            evaluator-dispatcher.dedicated-thread-pool.thread-count = {{(o.EvaluatorThreads > 0 ? o.EvaluatorThreads : Math.Max(1, Environment.ProcessorCount))}}
            """;
        var config = ConfigurationFactory.ParseString(overrides);
        if (extraHocon is not null) config = config.WithFallback(ConfigurationFactory.ParseString(extraHocon));
        if (o.ExtraConfigFile is { } file)
        {
            if (!File.Exists(file)) throw new NasInputException("configuration file not found", file);
            try
            {
                config = config.WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(file)));
            }
            catch (Exception e) when (e is Akka.Configuration.ConfigurationException or FormatException)
            {
                throw new NasInputException($"not valid HOCON: {e.Message}", file);
            }
        }
        return config
            .WithFallback(ConfigurationFactory.ParseString(Resource(db.IsSqlite ? "persistence-sqlite.conf" : "persistence-postgres.conf")))
            .WithFallback(ConfigurationFactory.ParseString(Resource(RoleFile(o.Roles))))
            .WithFallback(ConfigurationFactory.ParseString(Resource("cluster.conf")));
    }

    private static string RoleFile(IReadOnlyList<string> roles) => roles.Count == 1 && roles[0] is "coordinator" or "evaluator" or "trainer"
        ? $"{roles[0]}.conf"
        : roles.Count == 0 ? "client.conf" : "standalone.conf";

    public static readonly IReadOnlyList<string> KnownRoles = ["coordinator", "evaluator", "trainer"];

    /// <summary>Validates a role list (empty: a client that only talks to the cluster).</summary>
    public static IReadOnlyList<string> ParseRoles(string roles)
    {
        var list = roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        foreach (var r in list)
            if (!KnownRoles.Contains(r)) throw new NasInputException($"unknown role '{r}' (roles: {string.Join(", ", KnownRoles)})");
        return list;
    }

    /// <summary>
    /// A seed node as Akka wants it: <c>host:port</c> becomes <c>akka.tcp://nascluster@host:port</c>
    /// (<c>akka.ssl.tcp://</c> with <paramref name="tls"/>); a full address is checked and kept.
    /// </summary>
    public static string SeedAddress(string seed, bool tls = false)
    {
        seed = seed.Trim();
        var scheme = Scheme(tls);
        if (seed.StartsWith("akka.", StringComparison.Ordinal) && seed.Contains("://", StringComparison.Ordinal))
        {
            if (!seed.StartsWith($"{scheme}://", StringComparison.Ordinal))
                throw new NasInputException($"seed '{seed}' is not {scheme}://{SystemName}@host:port" + (tls ? " (this node runs TLS)" : " (a node without TLS)"));
            if (!seed.StartsWith($"{scheme}://{SystemName}@", StringComparison.Ordinal))
                throw new NasInputException($"seed '{seed}' names another actor system (expected {scheme}://{SystemName}@host:port)");
            return seed;
        }
        var colon = seed.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(seed[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new NasInputException($"seed '{seed}' is not host:port (e.g. 10.0.0.5:4053)");
        return Address(seed[..colon], port, tls);
    }

    private static string Scheme(bool tls) => tls ? "akka.ssl.tcp" : "akka.tcp";

    /// <summary>The address other nodes use to reach a node (akka.tcp://nascluster@host:port, or akka.ssl.tcp:// over TLS).</summary>
    public static string Address(string host, int port, bool tls = false) => $"{Scheme(tls)}://{SystemName}@{host}:{port}";
}
