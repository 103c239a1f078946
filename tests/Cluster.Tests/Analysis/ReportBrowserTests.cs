using System.Globalization;
using System.Text.Json;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Cli;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;

namespace NasCluster.Cluster.Tests.Analysis;

/// <summary>
/// The report opened from disk in a real browser (Debian's headless chromium): every chart is drawn from
/// the data, the trial count is shown, nothing logs an error, clicking a Pareto point or a table row
/// selects that trial and shows its layers, sorting and filtering work, and the screenshot is not blank.
/// </summary>
[Trait("Tier", "slow")]
public sealed class ReportBrowserTests : IDisposable
{
    private readonly TestDatabase _db = new("sqlite");

    public void Dispose() => _db.Dispose();

    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    private void Search(string name, string controller, int trials, int batch)
    {
        var r = Cli("search", "--space", "mnv2-edgetpu-classification", "--name", name, "--controller", controller, "--trials",
            trials.ToString(CultureInfo.InvariantCulture), "--batch", batch.ToString(CultureInfo.InvariantCulture), "--quality", "synthetic", "--db", _db.Url, "--seed", "5");
        Assert.True(r.Code == 0, r.Err);
    }

    private static readonly string[] Charts =
        ["chart-front-latency", "chart-front-energy", "chart-history", "chart-learning", "chart-probabilities", "chart-parallel"];

    [Fact]
    public void The_report_draws_every_view_selects_trials_by_click_and_is_not_blank()
    {
        Search("rl", "reinforce", 60, 10);
        Search("rand", "random", 30, 10);
        var html = Path.Combine(_db.Directory, "report.html");
        var json = Path.Combine(_db.Directory, "report.json");
        var r = Cli("report", "rl", "rand", "--db", _db.Url, "--out", html, "--json", json);
        Assert.True(r.Code == 0, r.Err);
        var data = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("experiments");
        var rl = data[0];

        using var browser = new Browser();
        browser.Driver.Navigate().GoToUrl(new Uri(html).AbsoluteUri);
        browser.Until("return !!(window.NasReport && window.NasReport.ready)", TimeSpan.FromSeconds(30), "the report drawn");

        foreach (var id in Charts)
        {
            Assert.True(browser.Eval($"var e = document.getElementById('{id}'); return !!echarts.getInstanceByDom(e) && e.querySelectorAll('canvas').length > 0;") is true, id);
        }
        Assert.Contains("60 trials (60 completed", browser.Driver.FindElement(By.Id("trial-count")).Text);
        // The fronts plot every completed, non-reused trial of each experiment, and one Pareto series each.
        var plotted = Convert.ToInt32(browser.Eval("return echarts.getInstanceByDom(document.getElementById('chart-front-latency')).getOption().series[0].data.length;"), CultureInfo.InvariantCulture);
        Assert.Equal(rl.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("status").GetString() == "completed" && !t.TryGetProperty("reused_from", out _)), plotted);
        var frontSeries = Convert.ToInt32(browser.Eval("return echarts.getInstanceByDom(document.getElementById('chart-front-latency')).getOption().series[1].data.length;"), CultureInfo.InvariantCulture);
        Assert.Equal(rl.GetProperty("pareto_latency").GetArrayLength(), frontSeries);
        Assert.Equal(4L, browser.Eval("return echarts.getInstanceByDom(document.getElementById('chart-history')).getOption().series.length;"));
        Assert.Equal(2, browser.Driver.FindElements(By.CssSelector("#experiments .chip")).Count);
        Assert.Equal(rl.GetProperty("stages").GetArrayLength(), browser.Driver.FindElements(By.CssSelector("#stage-table tr")).Count - 1);

        // A real click on the first Pareto point of the latency front selects that trial and shows its layers.
        var firstPareto = rl.GetProperty("trials").EnumerateArray().Where(t => t.TryGetProperty("pareto_latency", out _))
            .OrderBy(t => t.GetProperty("latency_ms").GetDouble()).First();
        var pixel = (IReadOnlyCollection<object>)browser.Eval(
            "var c = echarts.getInstanceByDom(document.getElementById('chart-front-latency')); var d = c.getOption().series[1].data[0].value; return c.convertToPixel({ seriesIndex: 1 }, d);")!;
        var (px, py) = (Convert.ToDouble(pixel.ElementAt(0), CultureInfo.InvariantCulture), Convert.ToDouble(pixel.ElementAt(1), CultureInfo.InvariantCulture));
        var chart = browser.Driver.FindElement(By.Id("chart-front-latency"));
        new Actions(browser.Driver).MoveToElement(chart, (int)Math.Round(px - chart.Size.Width / 2.0), (int)Math.Round(py - chart.Size.Height / 2.0)).Click().Perform();
        browser.Until($"var t = document.getElementById('selected-title'); return t.getAttribute('data-trial') === '{firstPareto.GetProperty("id").GetInt32()}';",
            TimeSpan.FromSeconds(10), "the clicked Pareto point selected");
        Assert.StartsWith($"rl · trial {firstPareto.GetProperty("id").GetInt32()} ·", browser.Driver.FindElement(By.Id("selected-title")).Text);
        var layers = rl.GetProperty("layers").GetProperty(firstPareto.GetProperty("id").GetInt32().ToString(CultureInfo.InvariantCulture)).GetProperty("rows").GetArrayLength();
        Assert.Equal(layers, browser.Driver.FindElements(By.CssSelector("#layer-table tr.layer-row")).Count);
        Assert.True(browser.Eval("return echarts.getInstanceByDom(document.getElementById('chart-layers')).getOption().series[0].data.length;") is long n && n == layers);
        Screenshot(browser, "report-selected.png");

        // Sorting by reward (descending) puts the best trial first; a click on its row selects it.
        browser.Driver.FindElement(By.CssSelector("#trial-table th[data-key='reward']")).Click();
        var firstRow = browser.Driver.FindElement(By.CssSelector("#trial-table tbody tr"));
        Assert.Equal(rl.GetProperty("best").GetInt32().ToString(CultureInfo.InvariantCulture), firstRow.GetAttribute("data-trial"));
        firstRow.Click();
        Assert.Equal(rl.GetProperty("best").GetInt32().ToString(CultureInfo.InvariantCulture), browser.Driver.FindElement(By.Id("selected-title")).GetAttribute("data-trial"));
        Assert.NotEmpty(browser.Driver.FindElements(By.CssSelector("#layer-table tr.layer-row")));

        // A trial without embedded layers says so and how to get them.
        var without = rl.GetProperty("trials").EnumerateArray().First(t => !rl.GetProperty("layers").TryGetProperty(t.GetProperty("id").GetInt32().ToString(CultureInfo.InvariantCulture), out _)
                                                                          && !t.TryGetProperty("reused_from", out _));
        browser.Eval($"window.NasReport.select(0, {without.GetProperty("id").GetInt32()});");
        Assert.Contains("--layers all", browser.Driver.FindElement(By.Id("no-layers")).Text);

        // Filtering: a numeric condition and a decision condition narrow the table to exactly the matching trials.
        var threshold = rl.GetProperty("trials").EnumerateArray().Select(t => t.GetProperty("latency_ms").GetDouble()).Order().ElementAt(20);
        var filter = browser.Driver.FindElement(By.Id("table-filter"));
        filter.SendKeys($"latency_ms<{threshold.ToString("R", CultureInfo.InvariantCulture)}");
        var below = rl.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("latency_ms").GetDouble() < threshold);
        Assert.InRange(below, 1, 20);
        Assert.Equal(below, browser.Driver.FindElements(By.CssSelector("#trial-table tbody tr")).Count);
        filter.Clear();
        filter.SendKeys("s1.b0.type=fused");
        var typeIndex = rl.GetProperty("decisions").EnumerateArray().Select((d, i) => (d, i)).Single(x => x.d.GetProperty("name").GetString() == "s1.b0.type").i;
        var fusedIndex = rl.GetProperty("decisions")[typeIndex].GetProperty("choices").EnumerateArray().Select((c, i) => (c, i)).Single(x => x.c.GetString() == "fused").i;
        Assert.Equal(rl.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("v")[typeIndex].GetInt32() == fusedIndex),
            browser.Driver.FindElements(By.CssSelector("#trial-table tbody tr")).Count);
        filter.Clear();

        // The second experiment: its own learning view (population frequencies of random search).
        browser.Driver.FindElements(By.CssSelector("#experiments .chip"))[1].Click();
        Assert.Contains("30 trials", browser.Driver.FindElement(By.Id("trial-count")).Text);
        Assert.Contains("population", browser.Driver.FindElement(By.Id("learning-kind")).Text);

        Assert.Equal("[]", browser.Eval("return JSON.stringify(window.__reportErrors);"));
        Screenshot(browser, "report.png");

        // A link names the trial to open.
        browser.Driver.Navigate().GoToUrl(new Uri(html).AbsoluteUri + "#experiment=rand&trial=3");
        browser.Driver.Navigate().Refresh();
        browser.Until("return !!(window.NasReport && window.NasReport.ready)", TimeSpan.FromSeconds(30), "the report drawn again");
        Assert.StartsWith("rand · trial 3 ·", browser.Driver.FindElement(By.Id("selected-title")).Text);
    }

    private void Screenshot(Browser browser, string name)
    {
        var shot = browser.Driver.GetScreenshot();
        var path = Path.Combine(_db.Directory, name);
        shot.SaveAsFile(path);
        var (colours, drawn) = Png.Content(Png.Decode(File.ReadAllBytes(path)));
        Assert.True(colours > 200 && drawn > 0.05, $"{name} looks blank: {colours} colours, {drawn:P1} of the pixels drawn");
    }
}
