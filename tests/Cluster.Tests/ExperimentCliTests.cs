using System.Text.Json;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Cli;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// search, resume, status and list through the real command line, in process: what users see, and bad input
/// — a clear message, exit code 2, and a journal left exactly as it was.
/// </summary>
public sealed class ExperimentCliTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    private static string[] Search(string db, string name, string space = "mnv2-edgetpu-classification", int trials = 8) =>
        ["search", "--space", space, "--name", name, "--trials", trials.ToString(), "--batch", "4", "--quality", "synthetic", "--db", db];

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public void A_search_ends_with_a_summary_and_status_and_list_report_it(string backend)
    {
        using var db = new TestDatabase(backend);
        var run = Cli(Search(db.Url, "first"));
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("Pareto front", run.Out);
        Assert.Contains("8 completed, 0 failed, 0 in flight of 8", run.Out);

        var status = Cli("status", "first", "--db", db.Url, "--json");
        Assert.Equal(0, status.Code);
        using var doc = JsonDocument.Parse(status.Out);
        var root = doc.RootElement;
        Assert.Equal("first", root.GetProperty("name").GetString());
        Assert.Equal("finished", root.GetProperty("state").GetString());
        Assert.Equal(8, root.GetProperty("trials_completed").GetInt32());
        Assert.Equal(0, root.GetProperty("trials_failed").GetInt32());
        Assert.Equal(0, root.GetProperty("trials_in_flight").GetInt32());
        var trials = root.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(8, trials.Count);
        foreach (var t in trials)
        {
            Assert.Equal(64, t.GetProperty("hash").GetString()!.Length);
            Assert.InRange(t.GetProperty("quality").GetDouble(), 0.5, 1.0);
            Assert.True(t.GetProperty("latency_ms").GetDouble() > 0);
            Assert.True(t.GetProperty("energy_mj").GetDouble() > 0);
            Assert.True(t.GetProperty("reward").GetDouble() > 0);
        }
        var best = root.GetProperty("best");
        Assert.Equal(trials.Max(t => t.GetProperty("reward").GetDouble()), best.GetProperty("reward").GetDouble());

        Assert.Equal(0, Cli(Search(db.Url, "second", trials: 4)).Code);
        var list = Cli("list", "--db", db.Url);
        Assert.Equal(0, list.Code);
        Assert.Contains("first", list.Out);
        Assert.Contains("second", list.Out);
        Assert.Equal(2, Cli("list", "--db", db.Url, "--json").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void With_several_proxy_seeds_status_and_the_report_show_each_quality_with_its_error_and_the_seeds()
    {
        using var db = new TestDatabase("sqlite");
        var run = Cli([.. Search(db.Url, "noisy"), "--proxy-seeds", "3"]);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("the mean of 3 seeds per trial ± its standard error", run.Out);
        Assert.Contains(" ± ", run.Out);
        Assert.Contains("noise", run.Out); // the Pareto front's column
        var root = JsonDocument.Parse(Cli("status", "noisy", "--db", db.Url, "--json").Out).RootElement;
        Assert.Equal(3, root.GetProperty("proxy_seeds").GetInt32());
        foreach (var t in root.GetProperty("trials").EnumerateArray().Where(t => !t.TryGetProperty("reused_from", out _)))
        {
            var seeds = t.GetProperty("quality_seeds").EnumerateArray().Select(e => e.GetDouble()).ToList();
            Assert.Equal(3, seeds.Count);
            Assert.Equal(seeds.Average(), t.GetProperty("quality").GetDouble(), 12);
            Assert.Equal(0, t.GetProperty("quality_se").GetDouble(), 12); // synthetic quality does not depend on the seed
        }
        var json = Path.Combine(db.Directory, "noisy.data.json");
        Assert.Equal(0, Cli("report", "noisy", "--db", db.Url, "--json", json).Code);
        var x = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("experiments")[0];
        Assert.Contains("the mean of 3 seeds per trial", x.GetProperty("provenance").GetProperty("quality").GetString());
        Assert.All(x.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("status").GetString() == "completed"),
            t => Assert.Equal(3, t.GetProperty("quality_seeds").GetArrayLength()));
        var bad = Cli([.. Search(db.Url, "bad"), "--proxy-seeds", "0"]);
        InProcessCli.AssertBadInput(bad, "--proxy-seeds 0");
        Assert.Contains("--proxy-seeds must be 1–16 (got 0)", bad.Err);
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public void Unknown_experiments_and_taken_names_are_refused_and_nothing_changes(string backend)
    {
        using var db = new TestDatabase(backend);
        Assert.Equal(0, Cli(Search(db.Url, "taken")).Code);
        var before = Journal.Events(db.Target, "taken").Count;

        var again = Cli(Search(db.Url, "taken"));
        Assert.Equal(ExitCodes.BadInput, again.Code);
        Assert.Contains("experiment 'taken' already exists", again.Err);
        Assert.Contains("nascluster resume taken", again.Err);

        foreach (var args in new[] { new[] { "status", "nope", "--db", db.Url }, ["resume", "nope", "--db", db.Url] })
        {
            var r = Cli(args);
            Assert.Equal(ExitCodes.BadInput, r.Code);
            Assert.Contains("unknown experiment 'nope'", r.Err);
        }
        Assert.Equal(before, Journal.Events(db.Target, "taken").Count);
        Assert.DoesNotContain("nope", Cli("list", "--db", db.Url).Out);
    }

    [Fact]
    public void An_unreachable_database_is_named_in_a_clear_error()
    {
        const string unreachable = "postgres://nobody:secret@127.0.0.1:1/nowhere";
        foreach (var args in new[] { Search(unreachable, "x"), ["status", "x", "--db", unreachable], ["list", "--db", unreachable] })
        {
            var r = Cli(args);
            Assert.Equal(ExitCodes.BadInput, r.Code);
            Assert.Contains("cannot reach the PostgreSQL database", r.Err);
            Assert.DoesNotContain("secret", r.Err); // the password is not echoed
        }
        var missing = Cli("status", "x", "--db", Path.Combine(Path.GetTempPath(), "no-such-dir", "none.db"));
        Assert.Equal(ExitCodes.BadInput, missing.Code);
        Assert.Contains("no such database", missing.Err);
    }

    [Fact]
    public async Task A_database_locked_by_another_process_is_refused_without_touching_it()
    {
        using var db = new TestDatabase("sqlite");
        Assert.Equal(0, Cli(Search(db.Url, "before")).Code);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools(); // this process's idle connections would keep the lock from being taken
        // Another process (Python's sqlite3, as any other tool would) holds an exclusive lock.
        var holder = new System.Diagnostics.ProcessStartInfo("python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        holder.ArgumentList.Add("-c");
        holder.ArgumentList.Add("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA locking_mode=EXCLUSIVE")
            c.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
            c.execute("ROLLBACK")
            """);
        holder.ArgumentList.Add(db.Url);
        using var process = System.Diagnostics.Process.Start(holder)!;
        Assert.Equal("locked", await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        var r = Cli(Search(db.Url, "during"));
        await process.StandardInput.WriteLineAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ExitCodes.BadInput, r.Code);
        Assert.Contains("the database is locked by another process", r.Err);
        Assert.Equal(["before"], Coordinator.Hosting.ExperimentStore.Names(db.Target));
    }

    /// <summary>Every command that opens a database, on a file that is not one and on one whose pages are damaged.</summary>
    [Fact]
    public void A_database_file_that_is_not_a_database_or_is_corrupt_is_one_error_naming_it_exit_2_and_left_untouched()
    {
        using var db = new TestDatabase("sqlite");
        var notADatabase = Path.Combine(db.Directory, "notes.db");
        File.WriteAllText(notADatabase, "these are my notes, not a database\n");

        Assert.Equal(0, Cli(Search(db.Url, "victim", trials: 8)).Code);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools(); // the last connection checkpoints the WAL into the file
        var corrupt = db.Url;
        var bytes = File.ReadAllBytes(corrupt);
        Assert.True(bytes.Length > 3 * 4096, $"expected a multi-page database, got {bytes.Length} bytes");
        for (var i = 4096; i < bytes.Length; i++) bytes[i] = (byte)(i * 31 % 251); // every page after the schema page
        File.WriteAllBytes(corrupt, bytes);

        foreach (var file in new[] { notADatabase, corrupt })
        {
            var before = File.ReadAllBytes(file);
            string[][] commands =
            [
                ["status", "victim", "--db", file],
                ["status", "victim", "--db", file, "--json"],
                ["list", "--db", file],
                ["resume", "victim", "--db", file],
                ["resume", "victim", "--fork", "victim-2", "--db", file],
                Search(file, "fresh"),
                ["demo", "--quality", "synthetic", "--db", file],
                ["coordinator", "--db", file],
            ];
            foreach (var args in commands)
            {
                var r = Cli(args);
                var what = $"{string.Join(' ', args)}: exit {r.Code}, stderr: {r.Err}";
                Assert.True(r.Code == ExitCodes.BadInput, what);
                var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                var error = Assert.Single(lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
                Assert.Contains(file, error);
                Assert.Contains("not a NasCluster database, or it is corrupt", error);
                Assert.DoesNotContain("internal error", r.Err);
                Assert.Equal(before, File.ReadAllBytes(file));
            }
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public void Resuming_after_the_search_space_changed_is_refused_with_the_difference_and_fork_continues_under_a_new_name(string backend)
    {
        using var db = new TestDatabase(backend);
        var space = Specs.WriteTinySpace(db.Directory);
        Assert.Equal(0, Cli(Search(db.Url, "original", space, trials: 6)).Code);
        var before = Journal.Events(db.Target, "original").Count;

        File.WriteAllText(space, Specs.TinySpaceJson.Replace("[16, 24]", "[16, 32]"));
        var refused = Cli("resume", "original", "--db", db.Url);
        Assert.Equal(ExitCodes.BadInput, refused.Code);
        Assert.Contains("the search space", refused.Err);
        Assert.Contains("choices [16, 24] → [16, 32]", refused.Err);
        Assert.Contains("--fork", refused.Err);
        Assert.Equal(before, Journal.Events(db.Target, "original").Count);

        var fork = Cli("resume", "original", "--fork", "successor", "--db", db.Url);
        Assert.True(fork.Code == 0, fork.Err);
        using var doc = JsonDocument.Parse(Cli("status", "successor", "--db", db.Url, "--json").Out);
        Assert.Equal("original", doc.RootElement.GetProperty("forked_from").GetString());
        Assert.Equal("finished", doc.RootElement.GetProperty("state").GetString());
        var created = Journal.Events(db.Target, "successor").OfType<ExperimentCreated>().Single();
        Assert.Contains("[16, 32]", created.Spec.SpaceJson);
        Assert.Equal(before, Journal.Events(db.Target, "original").Count);

        var taken = Cli("resume", "original", "--fork", "successor", "--db", db.Url);
        Assert.Equal(ExitCodes.BadInput, taken.Code);
        Assert.Contains("'successor' already exists", taken.Err);
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task Resuming_an_experiment_of_another_simulator_version_is_refused(string backend)
    {
        using var db = new TestDatabase(backend);
        await using (var node = await Nodes.Start(db.Url, ["coordinator", "evaluator", "trainer"], trainer: Nodes.SyntheticTrainer("t")))
        {
            var spec = Specs.Spec("old-simulator", trials: 2, batch: 2) with { SimulatorVersion = "ppe-0" };
            var done = await Nodes.StartSearch(node, spec);
            var d = await done.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(2, d.Failed); // today's evaluators do not price for another simulator version
        }
        var events = Journal.Events(db.Target, "old-simulator");
        Assert.All(events.OfType<TrialFailed>(), f => Assert.Contains($"runs simulator {NasCluster.EvaluatorNode.Cost.CostModel.Version}, the experiment uses ppe-0", f.Reason));
        var r = Cli("resume", "old-simulator", "--db", db.Url);
        Assert.Equal(ExitCodes.BadInput, r.Code);
        Assert.Contains($"the simulator changed (experiment: ppe-0, now: {NasCluster.EvaluatorNode.Cost.CostModel.Version})", r.Err);
        Assert.Equal(events.Count, Journal.Events(db.Target, "old-simulator").Count);
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task Status_reads_a_running_search_without_disturbing_it_and_a_second_copy_is_refused(string backend)
    {
        using var db = new TestDatabase(backend);
        await using var node = await Nodes.Start(db.Url, ["coordinator", "evaluator", "trainer"], trainer: Nodes.SyntheticTrainer("t", 1, delayMs: 5),
            pricer: Nodes.SlowPricer(5));
        var done = await Nodes.StartSearch(node, Specs.Spec("busy", trials: 200, batch: 10));

        var seenRunning = 0;
        await Nodes.Until(() =>
        {
            var s = Cli("status", "busy", "--db", db.Url, "--json");
            Assert.Equal(0, s.Code);
            using var doc = JsonDocument.Parse(s.Out);
            var state = doc.RootElement.GetProperty("state").GetString();
            if (state == "running" && doc.RootElement.GetProperty("trials_in_flight").GetInt32() > 0) seenRunning++;
            return seenRunning >= 3 || state == "finished";
        }, TimeSpan.FromSeconds(60), "status to see the search running");
        Assert.Equal(3, seenRunning);

        var second = Cli("resume", "busy", "--db", db.Url);
        Assert.Equal(ExitCodes.BadInput, second.Code);
        Assert.Contains("already running", second.Err);

        var finished = await done.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal((200, 0), (finished.Completed, finished.Failed));
        Journal.AssertEveryTrialAccountedOnce(Journal.Events(db.Target, "busy"), 200);
        using var final = JsonDocument.Parse(Cli("status", "busy", "--db", db.Url, "--json").Out);
        Assert.Equal("finished", final.RootElement.GetProperty("state").GetString());
        Assert.Equal(200, final.RootElement.GetProperty("trials_completed").GetInt32());
    }
}
