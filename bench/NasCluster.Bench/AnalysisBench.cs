using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Microsoft.Data.Sqlite;
using NasCluster.Coordinator.Analysis;
using NasCluster.Coordinator.Analysis.Dashboard;
using NasCluster.Coordinator.Cli;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Bench;

/// <summary>
/// The analysis tool's speed, side by side in one run: writing the report of a large experiment, the
/// report becoming interactive in Debian's headless chromium, and how long a landed trial takes to show on
/// the live dashboard (journal write → drawn in the browser).
/// </summary>
public static class AnalysisBench
{
    public static int Run(string[] args)
    {
        var trials = BenchArgs.Int(args, "--trials", 10_000);
        var runs = BenchArgs.Int(args, "--runs", 3);
        var liveSeconds = BenchArgs.Int(args, "--live-seconds", 20);
        var dir = Directory.CreateTempSubdirectory("nascluster-bench-analysis-").FullName;
        try
        {
            var db = BenchArgs.Text(args, "--db") ?? Path.Combine(dir, "big.db");
            if (!File.Exists(db))
            {
                var sw = Stopwatch.StartNew();
                var code = CliApp.Run(["search", "--space", "mnv2-edgetpu-classification", "--name", "big", "--trials", trials.ToString(CultureInfo.InvariantCulture),
                    "--batch", "100", "--quality", "synthetic", "--db", db, "--seed", "1"], TextWriter.Null, Console.Error);
                if (code != 0) return code;
                Console.WriteLine($"setup: a {trials:N0}-trial synthetic search in {sw.Elapsed.TotalSeconds:0.0} s ({db})");
            }
            var target = NodeConfig.ParseDb(db);
            var html = Path.Combine(dir, "big.report.html");
            for (var r = 1; r <= runs; r++)
            {
                var sw = Stopwatch.StartNew();
                var docs = ReportFiles.Analyse(target, ["big"]);
                var analysed = sw.Elapsed.TotalSeconds;
                ReportFiles.WriteHtml(html, ReportPage.Document(docs));
                Console.WriteLine($"report write, run {r}: {sw.Elapsed.TotalSeconds:0.00} s (read + analyse {analysed:0.00} s), {new FileInfo(html).Length / 1e6:0.0} MB");
            }

            using var driver = Chromium();
            for (var r = 1; r <= runs; r++)
            {
                var sw = Stopwatch.StartNew();
                driver.Navigate().GoToUrl(new Uri(html).AbsoluteUri + "#run=" + r);
                driver.Navigate().Refresh();
                new WebDriverWait(driver, TimeSpan.FromSeconds(60)) { PollingInterval = TimeSpan.FromMilliseconds(20) }
                    .Until(d => ((ChromeDriver)d).ExecuteScript("return !!(window.NasReport && window.NasReport.ready)") is true);
                var readyMs = Convert.ToDouble(driver.ExecuteScript("return window.NasReport.readyMs;"), CultureInfo.InvariantCulture);
                Console.WriteLine($"report interactive in chromium, run {r}: {readyMs / 1000:0.00} s after navigation start (wall {sw.Elapsed.TotalSeconds:0.00} s)");
            }

            return Live(dir, driver, liveSeconds).GetAwaiter().GetResult();
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A search writing trials (one every ~100 ms) while the dashboard page follows it: for every recorded
    /// quality, the time from its journal row's timestamp to the first render that includes it.
    /// </summary>
    private static async Task<int> Live(string dir, ChromeDriver driver, int seconds)
    {
        var db = Path.Combine(dir, "live.db");
        var trainer = new TrainerAgentSettings("bench", 1, new ProxyEnvironment(), Path.Combine(dir, "weights")) { SyntheticDelay = TimeSpan.FromMilliseconds(100) };
        await using var node = await ClusterNode.StartAsync(new NodeOptions { Db = db }, trainer);
        var spec = ExperimentSpecs.Build(new SearchRequest
        {
            Name = "live", Space = "mnv2-edgetpu-classification", Trials = 100_000, BatchSize = 1, Quality = "synthetic", MaxAttempts = 3,
        });
        await node.Registry.Ask<object>(new StartExperiment(spec), TimeSpan.FromSeconds(30));
        await using var server = await DashboardServer.StartAsync(NodeConfig.ParseDb(db), new DashboardOptions { Port = 0 });
        driver.Navigate().GoToUrl($"http://127.0.0.1:{server.Port}/experiments/live");
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var renders = ((IEnumerable<object>)driver.ExecuteScript("return window.NasReport.renders.map(r => [r.at, r.version]);")!)
            .Select(o => ((IEnumerable<object>)o).Select(v => Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
        var landed = new List<(long Seq, double AtMs)>();
        using (var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT sequence_number, created FROM journal WHERE persistence_id = 'experiment-live' AND manifest = 'exp-quality-v1' ORDER BY sequence_number";
            using var r = cmd.ExecuteReader();
            while (r.Read()) landed.Add((r.GetInt64(0), (r.GetInt64(1) - DateTime.UnixEpoch.Ticks) / 10_000.0));
        }
        var first = renders.Count > 0 ? renders[0][0] : double.MaxValue;
        var latencies = landed.Where(l => l.AtMs >= first) // trials that landed after the page was up
            .Select(l => renders.FirstOrDefault(x => x[1] >= l.Seq) is { } shown ? shown[0] - l.AtMs : double.NaN)
            .Where(double.IsFinite).Order().ToList();
        if (latencies.Count == 0)
        {
            Console.WriteLine("dashboard: no trial landed while the page was open");
            return 1;
        }
        double P(double q) => latencies[(int)Math.Min(latencies.Count - 1, Math.Floor(q * latencies.Count))];
        Console.WriteLine($"dashboard, landed trial → drawn: {latencies.Count} trials over {seconds} s, {renders.Count} redraws; " +
                          $"p50 {P(0.5) / 1000:0.00} s, p95 {P(0.95) / 1000:0.00} s, max {latencies[^1] / 1000:0.00} s");
        return 0;
    }

    private static ChromeDriver Chromium()
    {
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,2400");
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
    }
}
