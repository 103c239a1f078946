using System.CommandLine;
using Akka.Actor;
using NasCluster.Cluster.Tests.Support;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.EvaluationProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>A node's settings: HOCON files, then environment, then command line; and what an evaluator computes.</summary>
public sealed class NodeConfigTests
{
    private static NodeOptions Parse(string[] args, Dictionary<string, string> env, IReadOnlyList<string>? roles = null)
    {
        var root = new RootCommand();
        var node = new NodeCommandLine().AddTo(root);
        return node.Read(root.Parse(args), roles ?? ["evaluator"], k => env.GetValueOrDefault(k));
    }

    [Fact]
    public void Evaluator_entities_price_on_a_dedicated_pool_of_the_requested_size_not_the_shared_thread_pool()
    {
        var config = NodeConfig.Build(new NodeOptions { Roles = ["evaluator"], EvaluatorThreads = 1 });
        Assert.Equal("ForkJoinDispatcher", config.GetString("evaluator-dispatcher.type"));
        Assert.Equal(1, config.GetInt("evaluator-dispatcher.dedicated-thread-pool.thread-count"));
    }

    [Fact]
    public void The_command_line_overrides_the_environment_which_overrides_the_defaults()
    {
        var env = new Dictionary<string, string>
        {
            ["NASCLUSTER_HOST"] = "10.0.0.9", ["NASCLUSTER_PORT"] = "4100", ["NASCLUSTER_SEEDS"] = "10.0.0.1:4053,10.0.0.2:4053",
            ["NASCLUSTER_DB"] = "/data/env.db", ["NASCLUSTER_SLOTS"] = "3",
        };
        var fromEnv = Parse([], env);
        Assert.Equal(("10.0.0.9", 4100, "/data/env.db", 3), (fromEnv.Host, fromEnv.Port, fromEnv.Db, fromEnv.TrainerSlots));
        Assert.Equal(["10.0.0.1:4053", "10.0.0.2:4053"], fromEnv.Seeds);

        var fromArgs = Parse(["--host", "192.168.1.5", "--port", "4200", "--seed", "192.168.1.1:4053", "--db", "postgres://u:p@db/nas"], env);
        Assert.Equal(("192.168.1.5", 4200, "postgres://u:p@db/nas"), (fromArgs.Host, fromArgs.Port, fromArgs.Db));
        Assert.Equal(["192.168.1.1:4053"], fromArgs.Seeds);

        var defaults = Parse([], []);
        Assert.Equal((null, null, NodeConfig.DefaultDb), (defaults.Host, defaults.Port, defaults.Db));
        Assert.True(defaults.JoinsItself);
        var built = NodeConfig.Build(defaults);
        Assert.Equal(("127.0.0.1", 0), (built.GetString("akka.remote.dot-netty.tcp.hostname"), built.GetInt("akka.remote.dot-netty.tcp.port")));
        Assert.Empty(built.GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact]
    public void The_configuration_carries_roles_address_seeds_database_and_the_files_in_order()
    {
        using var db = new TestDatabase("sqlite");
        var extra = Path.Combine(db.Directory, "extra.conf");
        File.WriteAllText(extra, "nascluster.downing.stable-after = 42s\nnascluster.trainer.slots = 9\nakka.remote.dot-netty.tcp.port = 5555");
        var options = new NodeOptions
        {
            Roles = ["evaluator", "trainer"], Host = "10.1.2.3", Port = 4321, Seeds = ["10.1.2.1:4053"], Db = db.Url, ExtraConfigFile = extra, TrainerSlots = 2,
        };
        var c = NodeConfig.Build(options);
        Assert.Equal(["evaluator", "trainer"], c.GetStringList("akka.cluster.roles"));
        Assert.Equal("10.1.2.3", c.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(4321, c.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(["akka.tcp://nascluster@10.1.2.1:4053"], c.GetStringList("akka.cluster.seed-nodes"));
        Assert.Contains(db.Url, c.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("SQLite.MS", c.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal(TimeSpan.FromSeconds(42), c.GetTimeSpan("nascluster.downing.stable-after")); // --config over the files
        Assert.Equal(2, c.GetInt("nascluster.trainer.slots"));                                               // options over --config
        Assert.Equal(5555, NodeConfig.Build(options with { Port = null }).GetInt("akka.remote.dot-netty.tcp.port")); // --config over the defaults
        Assert.Equal("NasCluster.NodeHosting.Downing.KeepCoordinatorDowningProvider, NasCluster.NodeHosting", c.GetString("akka.cluster.downing-provider-class"));
        Assert.Equal("ddata", c.GetString("akka.cluster.sharding.state-store-mode"));
        Assert.False(c.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.False(c.GetBoolean("akka.actor.serialization-settings.allow-unregistered-types"));

        var pg = NodeConfig.Build(options with { Db = "postgres://nas:secret@db.example:5433/experiments", ExtraConfigFile = null });
        Assert.Equal("PostgreSQL.15", pg.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Contains("Host=db.example;Port=5433;Database=experiments", pg.GetString("akka.persistence.journal.sql.connection-string"));
    }

    [Fact]
    public void A_database_password_comes_from_the_environment_or_a_file_and_is_never_shown()
    {
        static Func<string, string?> Env(params (string Key, string Value)[] vars) => k => vars.FirstOrDefault(v => v.Key == k).Value;
        const string url = "postgres://nas@db.example:5433/experiments";

        var fromEnv = NodeConfig.ParseDb(url, Env(("NASCLUSTER_DB_PASSWORD", "s3cr;et\"x")));
        Assert.False(fromEnv.PasswordInUrl);
        var cs = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = fromEnv.ConnectionString };
        Assert.Equal(("db.example", "5433", "experiments", "nas", "s3cr;et\"x"), (cs["host"], cs["port"].ToString(), cs["database"], cs["username"], cs["password"]));
        Assert.Equal("postgres://nas@db.example:5433/experiments", fromEnv.Display);
        Assert.DoesNotContain("s3cr", fromEnv.ToString());

        using var dir = new TestDatabase("sqlite");
        var file = Path.Combine(dir.Directory, "password");
        File.WriteAllText(file, "from-a-file\n");
        var fromFile = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = NodeConfig.ParseDb(url, Env(("NASCLUSTER_DB_PASSWORD_FILE", file))).ConnectionString };
        Assert.Equal("from-a-file", fromFile["password"]);
        var missing = Assert.Throws<NasInputException>(() => NodeConfig.ParseDb(url, Env(("NASCLUSTER_DB_PASSWORD_FILE", file + ".gone"))));
        Assert.Contains("cannot read the database password file", missing.Message);

        // Neither: no password in the connection string, so Npgsql reads PGPASSFILE or ~/.pgpass.
        var none = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = NodeConfig.ParseDb(url, Env()).ConnectionString };
        Assert.False(none.ContainsKey("password"));

        var inUrl = NodeConfig.ParseDb("postgres://nas:pw@db.example/experiments", Env(("NASCLUSTER_DB_PASSWORD", "ignored")));
        Assert.True(inUrl.PasswordInUrl);
        Assert.DoesNotContain("pw", inUrl.Display);
    }

    [Fact]
    public void A_password_on_the_command_line_is_warned_about_and_never_printed()
    {
        var r = InProcessCli.Run("status", "x", "--db", "postgres://nas:hunter2@127.0.0.1:1/nas");
        Assert.Equal(2, r.Code); // nothing listens on port 1
        Assert.Contains("warning: the database password is on the command line", r.Err);
        Assert.DoesNotContain("hunter2", r.Out + r.Err);
        Assert.DoesNotContain("warning", InProcessCli.Run("status", "x", "--db", "postgres://nas@127.0.0.1:1/nas").Err);
    }

    [Theory]
    [PostgresData]
    public void A_postgres_database_is_reached_with_the_password_from_the_environment_or_a_pgpass_file(string backend)
    {
        using var db = new TestDatabase(backend);
        var url = new Uri(db.Url);
        var password = Uri.UnescapeDataString(url.UserInfo.Split(':', 2)[1]);
        var bare = new UriBuilder(url) { Password = "" }.Uri.ToString();
        Assert.Equal(url.UserInfo.Split(':')[0], new Uri(bare).UserInfo);
        var target = NodeConfig.ParseDb(bare, k => k == "NASCLUSTER_DB_PASSWORD" ? password : null);
        NasCluster.Coordinator.Hosting.Database.Prepare(target); // connects
        Assert.Empty(NasCluster.Coordinator.Hosting.ExperimentStore.Names(target));

        // ~/.pgpass (here PGPASSFILE): host:port:database:user:password, mode 0600.
        var pgpass = Path.Combine(db.Directory, "pgpass");
        File.WriteAllText(pgpass, $"{url.Host}:{url.Port}:*:{url.UserInfo.Split(':')[0]}:{password}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(pgpass, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var before = Environment.GetEnvironmentVariable("PGPASSFILE");
        Environment.SetEnvironmentVariable("PGPASSFILE", pgpass);
        try
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            NasCluster.Coordinator.Hosting.Database.Prepare(NodeConfig.ParseDb(bare, _ => null));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGPASSFILE", before);
        }
    }

    [Theory]
    [InlineData("10.0.0.1", "is not host:port")]
    [InlineData("10.0.0.1:99999", "is not host:port")]
    [InlineData("akka.tcp://other@10.0.0.1:4053", "names another actor system")]
    public void A_malformed_seed_is_named(string seed, string message)
    {
        var e = Assert.Throws<NasInputException>(() => Parse(["--seed", seed], []));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("NASCLUSTER_PORT", "port", "must be a port number")]
    [InlineData("NASCLUSTER_SLOTS", "0", "must be a positive integer")]
    [InlineData("NASCLUSTER_ROLES", "evaluator,cook", "unknown role 'cook'")]
    public void A_malformed_environment_variable_is_named(string variable, string value, string message)
    {
        var e = Assert.Throws<NasInputException>(() => NodeConfig.FromEnvironment(new NodeOptions(), k => k == variable ? value : null));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_missing_configuration_file_and_a_malformed_database_url_are_named()
    {
        Assert.Contains("configuration file not found",
            Assert.Throws<NasInputException>(() => NodeConfig.Build(new NodeOptions { ExtraConfigFile = "/nonexistent/x.conf" })).Message);
        Assert.Contains("expected postgres://user@host:port/database",
            Assert.Throws<NasInputException>(() => NodeConfig.ParseDb("postgres://host-only")).Message);
    }

    [Fact]
    public async Task An_architecture_is_priced_once_however_often_it_is_asked()
    {
        using var db = new TestDatabase("sqlite");
        var calls = 0;
        await using var node = await Nodes.Start(db.Url, ["coordinator", "evaluator"], pricer: e =>
        {
            Interlocked.Increment(ref calls);
            return ZeroCostWork.Price(e);
        });
        var evaluate = new Evaluate("pixel6/abc", "pixel6", null, "{}", Fidelity.Analytical, new AttemptId("x", 0, 1));
        var first = await node.Evaluators.Ask<EvaluationResult>(evaluate, TimeSpan.FromSeconds(30));
        var second = await node.Evaluators.Ask<EvaluationResult>(evaluate with { Attempt = new AttemptId("y", 0, 1) }, TimeSpan.FromSeconds(30));
        Assert.Equal(first.Cost, second.Cost);
        Assert.Equal(new AttemptId("y", 0, 1), second.Attempt);
        Assert.Equal(1, calls);
    }
}
