using System.Net;
using System.Text.Json;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Analysis.Dashboard;
using NasCluster.Coordinator.Cli;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;
using OpenQA.Selenium;

namespace NasCluster.Cluster.Tests.Analysis;

/// <summary>
/// The dashboard over real journals while searches write to them: the experiment list, each experiment's
/// document (the report's), 404 for an unknown one, server-sent events when a journal grows — and in a real
/// browser, counts that rise while a search runs, on SQLite and on PostgreSQL.
/// </summary>
public sealed class DashboardTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    private static void Search(string db, string name, int trials = 12)
    {
        var r = Cli("search", "--space", "mnv2-edgetpu-classification", "--name", name, "--trials", trials.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--batch", "6", "--quality", "synthetic", "--db", db);
        Assert.True(r.Code == 0, r.Err);
    }

    private static DashboardOptions Options => new() { Port = 0, PollInterval = TimeSpan.FromMilliseconds(50) };

    [Fact]
    public void Changes_are_the_experiments_that_appeared_or_whose_journal_grew()
    {
        var before = new Dictionary<string, long> { ["a"] = 5, ["b"] = 7 };
        var now = new Dictionary<string, long> { ["a"] = 5, ["b"] = 9, ["c"] = 1 };
        Assert.Equal([new ExperimentChange("b", 9, false), new ExperimentChange("c", 1, true)], ExperimentChanges.Between(before, now));
        Assert.Empty(ExperimentChanges.Between(now, now));
    }

    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task The_api_lists_experiments_serves_their_documents_and_announces_new_events(string backend)
    {
        using var db = new TestDatabase(backend);
        Search(db.Url, "first");
        await using var server = await DashboardServer.StartAsync(NodeConfig.ParseDb(db.Url), Options);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}") };

        var list = JsonDocument.Parse(await http.GetStringAsync("/api/experiments")).RootElement.GetProperty("experiments");
        var first = Assert.Single(list.EnumerateArray());
        Assert.Equal(("first", "finished", 12, 12), (first.GetProperty("name").GetString(), first.GetProperty("state").GetString(),
            first.GetProperty("completed").GetInt32(), first.GetProperty("target").GetInt32()));

        // The experiment's document is the report's (same trials, same fronts).
        var doc = JsonDocument.Parse(await http.GetStringAsync("/api/experiments/first")).RootElement.GetProperty("experiments")[0];
        var json = Path.Combine(db.Directory, "first.json");
        Assert.Equal(0, Cli("report", "first", "--db", db.Url, "--json", json, "--no-html").Code);
        var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("experiments")[0];
        Assert.Equal(report.GetProperty("trials").GetRawText(), doc.GetProperty("trials").GetRawText());
        Assert.Equal(report.GetProperty("pareto_latency").GetRawText(), doc.GetProperty("pareto_latency").GetRawText());

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/experiments/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/experiments/nope")).StatusCode);
        var page = await http.GetStringAsync("/experiments/first");
        Assert.Contains("\"experiment\":\"first\"", page);
        Assert.Contains("NasCluster dashboard", await http.GetStringAsync("/"));

        // Server-sent events: a hello with every experiment's version, then "changed" when a new search writes.
        using var events = new StreamReader(await http.GetStreamAsync("/api/events"));
        Assert.Equal("event: hello", await events.ReadLineAsync());
        Assert.Contains("\"first\":", await events.ReadLineAsync());
        Search(db.Url, "second", trials: 6);
        string? line;
        var announced = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((line = await events.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || !line.Contains("\"name\"", StringComparison.Ordinal)) continue;
            var name = JsonDocument.Parse(line["data: ".Length..]).RootElement.GetProperty("name").GetString()!;
            announced.Add(name);
            if (name == "second") break;
        }
        Assert.Contains("second", announced);
        Assert.DoesNotContain("first", announced);
        list = JsonDocument.Parse(await http.GetStringAsync("/api/experiments")).RootElement.GetProperty("experiments");
        Assert.Equal(["first", "second"], list.EnumerateArray().Select(x => x.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task A_database_that_cannot_be_read_or_a_taken_port_is_refused_with_the_reason()
    {
        using var db = new TestDatabase("sqlite");
        var missing = await Assert.ThrowsAsync<NasInputException>(() => DashboardServer.StartAsync(NodeConfig.ParseDb(Path.Combine(db.Directory, "none.db")), Options));
        Assert.Contains("no such database", missing.Message);
        var garbage = Path.Combine(db.Directory, "garbage.db");
        File.WriteAllText(garbage, "not a database at all, just text that is long enough to look like a header......");
        var corrupt = await Assert.ThrowsAsync<NasInputException>(() => DashboardServer.StartAsync(NodeConfig.ParseDb(garbage), Options));
        Assert.Contains(garbage, corrupt.Message);

        Search(db.Url, "x", trials: 6);
        await using var server = await DashboardServer.StartAsync(NodeConfig.ParseDb(db.Url), Options);
        var taken = await Assert.ThrowsAsync<NasInputException>(() => DashboardServer.StartAsync(NodeConfig.ParseDb(db.Url), Options with { Port = server.Port }));
        Assert.Contains($"cannot listen on 127.0.0.1:{server.Port}", taken.Message);

        var cli = Cli("dashboard", "--db", Path.Combine(db.Directory, "none.db"), "--port", "0");
        Assert.Equal(ExitCodes.BadInput, cli.Code);
        Assert.StartsWith("error: ", cli.Err);
    }
}

/// <summary>The dashboard in Debian's headless chromium while a search runs.</summary>
[Trait("Tier", "slow")]
public sealed class DashboardBrowserTests
{
    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task The_counts_rise_in_the_browser_while_a_search_runs(string backend)
    {
        using var db = new TestDatabase(backend);
        await using var node = await Nodes.Start(db.Url, ["coordinator", "evaluator", "trainer"], trainer: Nodes.SyntheticTrainer("t", 1, delayMs: 40));
        await using var server = await DashboardServer.StartAsync(NodeConfig.ParseDb(db.Url), new DashboardOptions { Port = 0, PollInterval = TimeSpan.FromMilliseconds(100) });
        var done = await Nodes.StartSearch(node, Specs.Spec("live", trials: 400, batch: 4));

        using var browser = new Browser(1400, 1800);
        browser.Driver.Navigate().GoToUrl($"http://127.0.0.1:{server.Port}/");
        browser.Until("return !!document.querySelector('#experiments tr[data-experiment=\"live\"]')", TimeSpan.FromSeconds(30), "the running experiment listed");
        // The list redraws as trials land: read it in one script rather than through element references.
        const string Row = "document.querySelector('#experiments tr[data-experiment=\"live\"]')";
        Assert.Equal("running", browser.Eval($"return {Row}.children[1].textContent;"));
        var before = Convert.ToInt32(browser.Eval($"return Number({Row}.children[3].textContent);"), System.Globalization.CultureInfo.InvariantCulture);
        browser.Until($"var r = {Row}; return !!r && Number(r.children[3].textContent) > {before};", TimeSpan.FromSeconds(30), "the list's completed count rising");

        var href = (string)browser.Eval($"return {Row}.querySelector('a').href;")!;
        Assert.EndsWith("/experiments/live", href);
        browser.Driver.Navigate().GoToUrl(href);
        browser.Until("return !!(window.NasReport && window.NasReport.ready)", TimeSpan.FromSeconds(30), "the experiment's report drawn");
        int Shown() => Convert.ToInt32(browser.Eval("return window.NasReport.charts['chart-history'].getOption().series[0].data.length;"), System.Globalization.CultureInfo.InvariantCulture);
        var first = Shown();
        browser.Until($"return window.NasReport.charts['chart-history'].getOption().series[0].data.length > {first};", TimeSpan.FromSeconds(30), "new trials drawn live");
        var text = browser.Driver.FindElement(By.Id("trial-count")).Text;
        Assert.Matches(@"^\d+ trials \(\d+ completed", text);
        Assert.Contains("live · journal event", browser.Driver.FindElement(By.Id("live")).Text);
        Assert.Equal("[]", browser.Eval("return JSON.stringify(window.__reportErrors);"));
        var shot = Path.Combine(db.Directory, "dashboard.png");
        browser.Driver.GetScreenshot().SaveAsFile(shot);
        var (colours, drawn) = Png.Content(Png.Decode(File.ReadAllBytes(shot)));
        Assert.True(colours > 200 && drawn > 0.05, $"the dashboard screenshot looks blank: {colours} colours, {drawn:P1} drawn");
        Assert.False(done.IsCompleted, "the search ended before the dashboard was seen following it; make it longer");
    }
}
