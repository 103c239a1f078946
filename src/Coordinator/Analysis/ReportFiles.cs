using System.Text;
using System.Text.Json.Nodes;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Analysis;

/// <summary>
/// The files <c>nascluster report</c> (and the end of <c>search</c>/<c>resume</c>) writes: the HTML report,
/// the CSV of every trial and the JSON data document, each written whole or not at all.
/// </summary>
public static class ReportFiles
{
    /// <summary>Reads the experiments and builds their analysis documents (in the order given).</summary>
    /// <exception cref="NasInputException">An unknown experiment, or a database that cannot be read.</exception>
    public static IReadOnlyList<JsonObject> Analyse(DatabaseTarget db, IReadOnlyList<string> names, LayerSelection layers = LayerSelection.Chosen)
    {
        if (names.Count == 0) throw new NasInputException("name at least one experiment (`nascluster list` shows them)");
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new NasInputException($"experiment '{duplicate.Key}' is named twice");
        return names.Select(n => Analyse(db, ExperimentStore.Load(db, n), layers)).ToList();
    }

    /// <summary>The analysis document of an experiment already read (its controller's history is read here).</summary>
    public static JsonObject Analyse(DatabaseTarget db, StoredExperiment x, LayerSelection layers = LayerSelection.Chosen) =>
        ExperimentAnalysis.Build(x, ExperimentStore.ControllerSteps(db, x.Name), layers, ReportPage.CodeVersion);

    /// <summary><c>EXP.report.html</c> in the database's <see cref="DatabaseTarget.LocalDirectory"/>.</summary>
    public static string DefaultHtmlPath(DatabaseTarget db, IReadOnlyList<string> names)
    {
        var stem = names.Count switch
        {
            1 => names[0],
            <= 3 => string.Join("+", names),
            _ => $"{names[0]}+{names.Count - 1}-more",
        };
        return Path.Combine(db.LocalDirectory, stem + ".report.html");
    }

    /// <summary>The report page of a data document (<see cref="ReportPage.Document"/>).</summary>
    public static void WriteHtml(string path, JsonObject document)
    {
        var experiments = document["experiments"]!.AsArray();
        var title = experiments.Count == 1 ? $"{experiments[0]!["name"]} · NasCluster report" : $"{experiments.Count} experiments · NasCluster report";
        AtomicFile.Write(path, w => ReportPage.Write(w, document, title), "the report");
    }

    public static void WriteJson(TextWriter output, JsonObject document) =>
        output.Write(document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = false }));

    /// <summary>
    /// One row per trial of every experiment: the experiment, the trial's measurements and state, then one
    /// column per decision (the union over the experiments, in order of first appearance; empty where an
    /// experiment's space lacks it).
    /// </summary>
    public static void WriteCsv(TextWriter output, IReadOnlyList<JsonObject> experiments)
    {
        var decisionNames = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var x in experiments)
            foreach (var d in x["decisions"]!.AsArray())
                if (seen.Add(d!["name"]!.GetValue<string>())) decisionNames.Add(d["name"]!.GetValue<string>());
        string[] fixedColumns = ["experiment", "trial", "hash", "status", "reward", "quality", "latency_ms", "energy_mj", "params", "macs",
            "pareto_latency", "pareto_energy", "reused_from", "train_seconds", "failure"];
        output.Write(string.Join(",", fixedColumns.Concat(decisionNames).Select(Csv)));
        output.Write('\n');
        var line = new StringBuilder();
        foreach (var x in experiments)
        {
            var name = x["name"]!.GetValue<string>();
            var decisions = x["decisions"]!.AsArray().Select(d => (Name: d!["name"]!.GetValue<string>(), Choices: d["choices"]!.AsArray())).ToList();
            var column = decisions.Select((d, i) => (d.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
            foreach (var t in x["trials"]!.AsArray())
            {
                line.Clear();
                line.Append(Csv(name));
                foreach (var c in fixedColumns.Skip(1))
                {
                    line.Append(',');
                    var key = c == "trial" ? "id" : c;
                    line.Append(t![key] is { } v ? Csv(Text(v)) : c.StartsWith("pareto", StringComparison.Ordinal) ? "false" : "");
                }
                var vector = t!["v"]!.AsArray();
                foreach (var d in decisionNames)
                {
                    line.Append(',');
                    if (column.TryGetValue(d, out var i)) line.Append(Csv(Text(decisions[i].Choices[vector[i]!.GetValue<int>()]!)));
                }
                line.Append('\n');
                output.Write(line);
            }
        }
    }

    private static string Text(System.Text.Json.Nodes.JsonNode v) => v.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        System.Text.Json.JsonValueKind.True => "true",
        System.Text.Json.JsonValueKind.False => "false",
        System.Text.Json.JsonValueKind.Number => v.ToJsonString(),
        _ => v.ToJsonString(),
    };

    private static string Csv(string s) =>
        s.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    /// <summary>Writes to a file whole-or-nothing, or to standard output for "-".</summary>
    public static void WriteTo(string path, TextWriter stdout, Action<TextWriter> write, string what)
    {
        if (path == "-")
        {
            write(stdout);
            stdout.Flush();
        }
        else AtomicFile.Write(path, write, what);
    }
}
