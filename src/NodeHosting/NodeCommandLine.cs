using System.CommandLine;
using NasCluster.Shared.Util;

namespace NasCluster.NodeHosting;

/// <summary>
/// The options every node executable shares (<c>--seed --host --port --db --config --tls-*</c>), so that
/// <c>nascluster</c>, <c>nascluster-evaluator</c> and <c>nascluster-trainer</c> read a node's settings the same
/// way: command line over environment (NASCLUSTER_*) over the role's HOCON file.
/// </summary>
public sealed class NodeCommandLine
{
    /// <param name="seedOption">The seed option's name: <c>--seed</c> for node executables; <c>search</c> and
    /// <c>resume</c> use <c>--join</c> because their <c>--seed</c> is the search's random seed.</param>
    public NodeCommandLine(string seedOption = "--seed")
    {
        Seeds = new Option<string[]>(seedOption)
        {
            Description = seedOption == "--seed"
                ? "A seed node to join, host:port (repeatable; env NASCLUSTER_SEEDS, comma-separated). Without one the node forms a new cluster."
                : "Run in an existing cluster: a seed node's host:port (repeatable). Without it everything runs in this process.",
            Arity = ArgumentArity.ZeroOrMore,
        };
    }

    public Option<string[]> Seeds { get; }

    public Option<string?> Host { get; } = new("--host") { Description = "Address to bind and advertise (default 127.0.0.1: loopback only; env NASCLUSTER_HOST)." };

    public Option<int?> Port { get; } = new("--port") { Description = "Port to listen on (default 0: any free port; env NASCLUSTER_PORT)." };

    public Option<string?> Db { get; } = new("--db")
    {
        Description = $"Experiment database: a SQLite file (default {NodeConfig.DefaultDb}) or postgres://user@host:port/database, the password in NASCLUSTER_DB_PASSWORD, NASCLUSTER_DB_PASSWORD_FILE or ~/.pgpass (env NASCLUSTER_DB).",
    };

    public Option<string?> Config { get; } = new("--config") { Description = "An extra HOCON file that overrides the built-in configuration (env NASCLUSTER_CONFIG)." };

    public Option<string?> TlsCertificate { get; } = new("--tls-cert") { Description = "Mutual TLS: this node's PEM certificate (env NASCLUSTER_TLS_CERT); needs --tls-key and --tls-ca." };

    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "Mutual TLS: the PEM private key of --tls-cert (env NASCLUSTER_TLS_KEY)." };

    public Option<string?> TlsCa { get; } = new("--tls-ca") { Description = "Mutual TLS: the cluster's CA certificate (PEM); peers must present a certificate it issued (env NASCLUSTER_TLS_CA)." };

    public Option<int> JoinTimeout { get; } = new("--join-timeout")
    {
        Description = "Seconds to wait for the cluster to accept this node.",
        DefaultValueFactory = _ => 60,
    };

    /// <summary>Adds the options to <paramref name="command"/>; <paramref name="withDb"/> for nodes that use the database.</summary>
    public NodeCommandLine AddTo(Command command, bool withDb = true)
    {
        command.Add(Seeds);
        command.Add(Host);
        command.Add(Port);
        if (withDb) command.Add(Db);
        command.Add(Config);
        command.Add(TlsCertificate);
        command.Add(TlsKey);
        command.Add(TlsCa);
        command.Add(JoinTimeout);
        return this;
    }

    /// <summary>The node's options: command line first, then the environment, then the defaults.</summary>
    public NodeOptions Read(ParseResult parse, IReadOnlyList<string> roles, Func<string, string?>? env = null)
    {
        var o = NodeConfig.FromEnvironment(new NodeOptions(), env) with { Roles = roles };
        if (parse.GetValue(Seeds) is { Length: > 0 } seeds) o = o with { Seeds = seeds.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList() };
        if (parse.GetValue(Host) is { } host) o = o with { Host = host };
        if (parse.GetValue(Port) is { } port)
            o = o with { Port = port is >= 0 and <= 65535 ? port : throw new NasInputException($"--port must be 0..65535 (got {port})") };
        if (parse.GetResult(Db) is not null && parse.GetValue(Db) is { } db) o = o with { Db = db };
        if (parse.GetValue(Config) is { } config) o = o with { ExtraConfigFile = config };
        if (parse.GetValue(TlsCertificate) is not null || parse.GetValue(TlsKey) is not null || parse.GetValue(TlsCa) is not null)
            o = o with { Tls = Tls.NodeTls.From(parse.GetValue(TlsCertificate) ?? o.Tls?.CertificateFile, parse.GetValue(TlsKey) ?? o.Tls?.KeyFile, parse.GetValue(TlsCa) ?? o.Tls?.CaFile) };
        o.Tls?.Load(); // unreadable or foreign certificates are an error now, not a join timeout
        foreach (var s in o.Seeds) NodeConfig.SeedAddress(s, o.Tls is not null); // a malformed seed is an error now, not a 60 s join timeout
        return o;
    }

    public TimeSpan Timeout(ParseResult parse)
    {
        var s = parse.GetValue(JoinTimeout);
        return s > 0 ? TimeSpan.FromSeconds(s) : throw new NasInputException($"--join-timeout must be positive (got {s})");
    }
}
