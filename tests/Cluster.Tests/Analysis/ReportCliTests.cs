using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Analysis;
using NasCluster.Coordinator.Cli;

namespace NasCluster.Cluster.Tests.Analysis;

/// <summary>
/// <c>nascluster report</c> through the real command line on real journals: the HTML file is self-contained
/// and carries the same trials, fronts and learning as the ledger; CSV and JSON hold every trial with every
/// decision; bad input is one line, exit 2 and no file; a search ends by writing its report.
/// </summary>
public sealed partial class ReportCliTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    private static void Search(string db, string name, string controller = "reinforce", int trials = 24, int batch = 6)
    {
        var r = Cli("search", "--space", "mnv2-edgetpu-classification", "--name", name, "--controller", controller, "--trials",
            trials.ToString(CultureInfo.InvariantCulture), "--batch", batch.ToString(CultureInfo.InvariantCulture), "--quality", "synthetic", "--db", db, "--seed", "3");
        Assert.True(r.Code == 0, r.Err);
    }

    [GeneratedRegex("<script id=\"report-data\" type=\"application/json\">(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex InlineData();

    private static JsonElement DataOf(string html) => JsonDocument.Parse(InlineData().Match(html).Groups[1].Value).RootElement;

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public void A_search_ends_with_its_report_beside_the_database_holding_the_ledgers_trials_fronts_and_learning(string backend)
    {
        using var db = new TestDatabase(backend);
        var run = Cli("search", "--space", "mnv2-edgetpu-classification", "--name", "reported", "--trials", "24", "--batch", "6", "--quality", "synthetic",
            "--db", db.Url, "--seed", "3");
        Assert.True(run.Code == 0, run.Err);
        var path = backend == "sqlite" ? Path.Combine(db.Directory, "reported.report.html") : Path.Combine(Directory.GetCurrentDirectory(), "reported.report.html");
        try
        {
            Assert.Contains($"report: {path}", run.Err);
            var html = File.ReadAllText(path);
            // Self-contained: ECharts and the app inlined, nothing loaded from anywhere.
            Assert.DoesNotContain("<script src", html);
            Assert.DoesNotContain("<link", html);
            Assert.Contains("echarts", html);
            var data = DataOf(html);
            var x = data.GetProperty("experiments")[0];
            var status = JsonDocument.Parse(Cli("status", "reported", "--db", db.Url, "--json").Out).RootElement;
            Assert.Equal(24, x.GetProperty("trials").GetArrayLength());
            Assert.Equal(status.GetProperty("trials_completed").GetInt32(), x.GetProperty("counts").GetProperty("completed").GetInt32());
            Assert.Equal(status.GetProperty("pareto").EnumerateArray().Select(p => p.GetInt32()).Order(),
                x.GetProperty("pareto_latency").EnumerateArray().Select(p => p.GetInt32()).Order());
            var statusTrials = status.GetProperty("trials").EnumerateArray().ToList();
            foreach (var (t, s) in x.GetProperty("trials").EnumerateArray().Zip(statusTrials))
            {
                Assert.Equal(s.GetProperty("hash").GetString(), t.GetProperty("hash").GetString());
                Assert.Equal(s.GetProperty("reward").GetDouble(), t.GetProperty("reward").GetDouble());
                Assert.Equal(s.GetProperty("latency_ms").GetDouble(), t.GetProperty("latency_ms").GetDouble());
                Assert.Equal(s.GetProperty("vector").EnumerateArray().Select(v => v.GetInt32()), t.GetProperty("v").EnumerateArray().Select(v => v.GetInt32()));
            }
            // Best so far never falls and ends at the best reward.
            var bests = x.GetProperty("trials").EnumerateArray().Select(t => t.GetProperty("best_so_far").GetDouble()).ToList();
            Assert.True(bests.Zip(bests.Skip(1)).All(p => p.Item2 >= p.Item1));
            Assert.Equal(status.GetProperty("best").GetProperty("reward").GetDouble(), bests[^1]);
            // The layers of the best trial are embedded and add up to its latency less the host's share.
            var best = status.GetProperty("best").GetProperty("id").GetInt32();
            var layers = x.GetProperty("layers").GetProperty(best.ToString(CultureInfo.InvariantCulture));
            var net = layers.GetProperty("network");
            Assert.Equal(status.GetProperty("best").GetProperty("latency_ms").GetDouble(), net.GetProperty("latency_ms").GetDouble(), 9);
            var sum = layers.GetProperty("rows").EnumerateArray().Sum(r => r[2].GetDouble());
            Assert.Equal(net.GetProperty("latency_ms").GetDouble() - net.GetProperty("host_ms").GetDouble(), sum, 3);
            // REINFORCE: one learning point per controller update (4 batches), each decision's probabilities a distribution.
            var learning = x.GetProperty("learning");
            Assert.Equal("policy", learning.GetProperty("kind").GetString());
            Assert.Equal([6, 12, 18, 24], learning.GetProperty("trials").EnumerateArray().Select(v => v.GetInt32()));
            Assert.Equal(x.GetProperty("decisions").GetArrayLength(), learning.GetProperty("probabilities").GetArrayLength());
            Assert.All(learning.GetProperty("probabilities").EnumerateArray(), d =>
                Assert.All(d.EnumerateArray(), point => Assert.Equal(1.0, point.EnumerateArray().Sum(p => p.GetDouble()), 3)));
            Assert.All(learning.GetProperty("baseline").EnumerateArray(), b => Assert.Equal(JsonValueKind.Number, b.ValueKind));
            // Provenance names what produced the numbers.
            var pv = x.GetProperty("provenance");
            Assert.Equal(status.GetProperty("space_fingerprint").GetString(), pv.GetProperty("space_fingerprint").GetString());
            Assert.Equal(NasCluster.EvaluatorNode.Cost.CostModel.Version, pv.GetProperty("simulator").GetString());
            Assert.Equal(3, pv.GetProperty("seed").GetInt64());
            Assert.StartsWith("1.0.0", pv.GetProperty("code_version").GetString());
            // Stages: the search's choices beside the analyzer's verdict at that stage's shape.
            var stage1 = x.GetProperty("stages").EnumerateArray().Single(s => s.GetProperty("stage").GetInt32() == 1);
            Assert.Equal(2, stage1.GetProperty("search").GetProperty("type").GetProperty("best").GetArrayLength());
            Assert.Equal(56, stage1.GetProperty("analyzer").GetProperty("spatial").GetInt32());
        }
        finally
        {
            if (backend != "sqlite") File.Delete(path);
        }
    }

    [Fact]
    public void Several_experiments_share_one_report_and_csv_and_json_hold_every_trial_with_every_decision()
    {
        using var db = new TestDatabase("sqlite");
        Search(db.Url, "rl");
        Search(db.Url, "evo", controller: "evolution", trials: 30, batch: 10);
        var csv = Path.Combine(db.Directory, "t.csv");
        var json = Path.Combine(db.Directory, "t.json");
        var html = Path.Combine(db.Directory, "both.html");
        var r = Cli("report", "rl", "evo", "--db", db.Url, "--csv", csv, "--json", json, "--out", html);
        Assert.True(r.Code == 0, r.Err);
        var data = DataOf(File.ReadAllText(html));
        Assert.Equal(["rl", "evo"], data.GetProperty("experiments").EnumerateArray().Select(x => x.GetProperty("name").GetString()));
        Assert.Equal("population", data.GetProperty("experiments")[1].GetProperty("learning").GetProperty("kind").GetString());

        var doc = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(data.GetProperty("experiments").GetRawText(), doc.GetProperty("experiments").GetRawText());

        var lines = File.ReadAllLines(csv);
        var header = lines[0].Split(',');
        var decisions = data.GetProperty("experiments")[0].GetProperty("decisions").EnumerateArray().ToList();
        Assert.Equal(15 + decisions.Count, header.Length);
        Assert.Equal(1 + 24 + 30, lines.Length);
        var evoTrials = data.GetProperty("experiments")[1].GetProperty("trials").EnumerateArray().ToList();
        foreach (var (line, t) in lines.Skip(1 + 24).Zip(evoTrials))
        {
            var cells = line.Split(',');
            Assert.Equal("evo", cells[0]);
            Assert.Equal(t.GetProperty("id").GetInt32(), int.Parse(cells[1], CultureInfo.InvariantCulture));
            Assert.Equal(t.GetProperty("reward").GetDouble(), double.Parse(cells[4], CultureInfo.InvariantCulture));
            for (var d = 0; d < decisions.Count; d++)
                Assert.Equal(decisions[d].GetProperty("choices")[t.GetProperty("v")[d].GetInt32()].ToString(), cells[15 + d]);
        }

        var stdout = Cli("report", "rl", "--db", db.Url, "--csv", "-", "--no-html");
        Assert.Equal(0, stdout.Code);
        Assert.Equal(25, stdout.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.False(File.Exists(Path.Combine(db.Directory, "rl.report.html")) && stdout.Err.Contains("report written", StringComparison.Ordinal));
    }

    [Fact]
    public void Layers_all_embeds_every_completed_trial_and_chosen_only_the_best_fronts_and_top()
    {
        using var db = new TestDatabase("sqlite");
        Search(db.Url, "exp", trials: 40, batch: 10);
        var chosen = Path.Combine(db.Directory, "chosen.html");
        var all = Path.Combine(db.Directory, "all.html");
        Assert.Equal(0, Cli("report", "exp", "--db", db.Url, "--out", chosen).Code);
        Assert.Equal(0, Cli("report", "exp", "--db", db.Url, "--out", all, "--layers", "all").Code);
        var x = DataOf(File.ReadAllText(chosen)).GetProperty("experiments")[0];
        var everything = DataOf(File.ReadAllText(all)).GetProperty("experiments")[0];
        var completed = everything.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("status").GetString() == "completed").Select(t => t.GetProperty("id").GetInt32()).ToHashSet();
        Assert.Equal(completed.Order(), everything.GetProperty("layers").EnumerateObject().Select(p => int.Parse(p.Name, CultureInfo.InvariantCulture)).Order());
        var expected = x.GetProperty("pareto_latency").EnumerateArray().Concat(x.GetProperty("pareto_energy").EnumerateArray()).Select(p => p.GetInt32())
            .Concat(x.GetProperty("trials").EnumerateArray().Where(t => t.TryGetProperty("reused_from", out _) is false && t.GetProperty("reward").ValueKind == JsonValueKind.Number)
                .OrderByDescending(t => t.GetProperty("reward").GetDouble()).ThenBy(t => t.GetProperty("id").GetInt32()).Take(ExperimentAnalysis.TopWithLayers).Select(t => t.GetProperty("id").GetInt32()))
            .ToHashSet();
        Assert.Equal(expected.Order(), x.GetProperty("layers").EnumerateObject().Select(p => int.Parse(p.Name, CultureInfo.InvariantCulture)).Order());
        Assert.True(expected.Count < completed.Count);
    }

    [Fact]
    public void Every_trials_average_power_is_in_the_report_and_marked_when_over_the_chips_budget()
    {
        using var db = new TestDatabase("sqlite");
        var hardware = Path.Combine(db.Directory, "tight.json");
        File.WriteAllText(hardware, """{"format": "nascluster-hardware", "version": 1, "name": "pixel6-tight", "base": "pixel6", "power_budget_w": 0.3}""");
        var r = Cli("search", "--space", "mnv2-edgetpu-classification", "--name", "tight", "--trials", "12", "--batch", "4", "--quality", "synthetic",
            "--db", db.Url, "--seed", "5", "--hardware", hardware);
        Assert.True(r.Code == 0, r.Err);
        var json = Path.Combine(db.Directory, "tight.data.json");
        var html = Path.Combine(db.Directory, "tight.html");
        Assert.Equal(0, Cli("report", "tight", "--db", db.Url, "--json", json, "--out", html).Code);
        var x = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("experiments")[0];
        Assert.Equal(0.3, x.GetProperty("power_budget_w").GetDouble());
        var completed = x.GetProperty("trials").EnumerateArray().Where(t => t.GetProperty("status").GetString() == "completed").ToList();
        Assert.NotEmpty(completed);
        foreach (var t in completed)
        {
            var power = t.GetProperty("power_w").GetDouble();
            Assert.Equal(t.GetProperty("energy_mj").GetDouble() / t.GetProperty("latency_ms").GetDouble(), power, 9);
            Assert.Equal(power > 0.3, t.TryGetProperty("over_power_budget", out var flag) && flag.GetBoolean());
        }
        Assert.Contains(completed, t => t.TryGetProperty("over_power_budget", out _)); // classification candidates draw 0.3-0.4 W on pixel6
        // The page carries the same document and the script that marks such trials.
        var page = File.ReadAllText(html);
        Assert.Contains("\"over_power_budget\":true", page, StringComparison.Ordinal);
        Assert.Contains("the device would throttle", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_input_is_one_line_exit_2_and_no_file_left_behind()
    {
        using var db = new TestDatabase("sqlite");
        Search(db.Url, "exp", trials: 6, batch: 6);
        var before = Directory.GetFiles(db.Directory).Order().ToList();
        var blocker = Path.Combine(db.Directory, "not-a-dir");
        File.WriteAllText(blocker, "x");
        string[][] cases =
        [
            ["report", "nope", "--db", db.Url],
            ["report", "exp", "nope", "--db", db.Url],
            ["report", "exp", "exp", "--db", db.Url],
            ["report", "exp", "--db", db.Url, "--layers", "some"],
            ["report", "exp", "--db", db.Url, "--out", Path.Combine(blocker, "r.html")],
            ["report", "exp", "--db", db.Url, "--csv", Path.Combine(blocker, "r.csv"), "--no-html"],
            ["report", "exp", "--db", db.Url, "--no-html"],
            ["report", "exp", "--db", Path.Combine(db.Directory, "missing.db")],
        ];
        foreach (var args in cases)
        {
            InProcessCli.AssertBadInput(Cli(args), string.Join(' ', args));
        }
        Assert.Equal(before.Append(blocker).Order(), Directory.GetFiles(db.Directory).Order());
        Assert.Empty(Directory.GetFiles(db.Directory, "*.tmp", SearchOption.AllDirectories));
    }
}
