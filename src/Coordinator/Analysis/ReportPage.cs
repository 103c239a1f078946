using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NasCluster.Coordinator.Analysis;

/// <summary>
/// The report as one self-contained HTML file: the page, its script, ECharts and the analysis documents
/// inlined, so it opens from disk with no network. The dashboard serves the same page and script.
/// </summary>
public static class ReportPage
{
    /// <summary>The version of the code that wrote a report (assembly version and commit).</summary>
    public static string CodeVersion { get; } =
        typeof(ReportPage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static string Resource(string name)
    {
        using var stream = typeof(ReportPage).Assembly.GetManifestResourceStream("NasCluster.Web." + name)
                           ?? throw new InvalidOperationException($"the web resource '{name}' is not embedded in the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The data document the page draws: <c>{ generated_by, experiments: [...] }</c>.</summary>
    public static JsonObject Document(IEnumerable<JsonObject> experiments) => new()
    {
        ["generated_by"] = $"nascluster {CodeVersion}",
        ["experiments"] = new JsonArray(experiments.Select(e => (JsonNode)e).ToArray()),
    };

    /// <summary>
    /// Writes the page with <paramref name="data"/> inlined, or (the dashboard's page) with no data and the
    /// name of the experiment it loads from <c>/api/experiments/NAME</c> and follows over <c>/api/events</c>.
    /// </summary>
    public static void Write(TextWriter output, JsonObject? data, string title, string? live = null)
    {
        var page = Resource("report.html");
        var json = data is null ? "" : InlineJson(data);
        // Placeholders replaced in one pass, in order, so no inlined text is ever searched for a placeholder.
        var parts = new Dictionary<string, string>
        {
            ["{{TITLE}}"] = System.Net.WebUtility.HtmlEncode(title),
            ["{{ECHARTS}}"] = Resource("echarts.min.js"),
            ["{{DATA}}"] = json,
            ["{{LIVE}}"] = live is null ? "" : InlineJson(new JsonObject { ["experiment"] = live }),
            ["{{APP}}"] = Resource("report.js"),
        };
        var at = 0;
        while (at < page.Length)
        {
            var next = page.IndexOf("{{", at, StringComparison.Ordinal);
            if (next < 0)
            {
                output.Write(page.AsSpan(at));
                break;
            }
            output.Write(page.AsSpan(at, next - at));
            var close = page.IndexOf("}}", next, StringComparison.Ordinal);
            if (close < 0) throw new InvalidOperationException("report.html: an unclosed {{ placeholder");
            var end = close + 2;
            var key = page[next..end];
            output.Write(parts.TryGetValue(key, out var value) ? value : key);
            at = end;
        }
    }

    /// <summary>JSON safe inside a script element: "&lt;/" cannot end it, and U+2028/9 cannot break it.</summary>
    public static string InlineJson(JsonNode data)
    {
        var text = data.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
        return text.Replace("</", "<\\/", StringComparison.Ordinal).Replace("\u2028", "\\u2028", StringComparison.Ordinal).Replace("\u2029", "\\u2029", StringComparison.Ordinal);
    }
}
