using System.CommandLine;
using NasCluster.Coordinator.Analysis;
using NasCluster.Coordinator.Experiments;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster report</c>: the HTML report of one or more experiments, and their trials as CSV or JSON.</summary>
internal static class ReportCommand
{
    public static Command Build()
    {
        var c = new Command("report", "Write a self-contained HTML report (Pareto fronts, history, controller learning, parallel coordinates, per-layer costs, trial table) of one or more experiments; safe while they run.");
        var names = new Argument<string[]>("EXPERIMENT") { Description = "One or more experiments (several: their fronts and histories overlaid).", Arity = ArgumentArity.OneOrMore };
        var db = ExperimentCommands.DbOption();
        var output = new Option<string?>("--out") { Description = "The HTML file (default: EXPERIMENT.report.html beside a SQLite database, or in this directory)." };
        var csv = new Option<string?>("--csv") { Description = "Also write every trial, with all decisions and metrics, as CSV to this file ('-': standard output)." };
        var json = new Option<string?>("--json") { Description = "Also write the analysis documents (every trial, decisions, fronts, learning, layers) as JSON to this file ('-': standard output)." };
        var layers = new Option<string>("--layers") { Description = "Trials whose per-layer costs are embedded: chosen (best, Pareto fronts, top 25) or all.", DefaultValueFactory = _ => "chosen" };
        var noHtml = new Option<bool>("--no-html") { Description = "Write only --csv/--json." };
        c.Add(names);
        foreach (var o in new Option[] { db, output, csv, json, layers, noHtml }) c.Add(o);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var list = p.GetValue(names)!;
            foreach (var n in list) ExperimentSpecs.ValidateName(n);
            var selection = p.GetValue(layers) switch
            {
                "chosen" => LayerSelection.Chosen,
                "all" => LayerSelection.All,
                var other => throw new NasInputException($"--layers must be 'chosen' or 'all' (got '{other}')"),
            };
            if (p.GetValue(noHtml) && p.GetValue(output) is not null) throw new NasInputException("--no-html and --out contradict each other");
            if (p.GetValue(noHtml) && p.GetValue(csv) is null && p.GetValue(json) is null) throw new NasInputException("--no-html needs --csv or --json");
            if (p.GetValue(csv) == "-" && p.GetValue(json) == "-") throw new NasInputException("only one of --csv and --json can go to standard output");
            var target = NodeConfig.ParseDb(p.GetValue(db)!);
            var docs = ReportFiles.Analyse(target, list, selection);
            var document = ReportPage.Document(docs);
            if (p.GetValue(csv) is { } csvPath) ReportFiles.WriteTo(csvPath, o.Out, w => ReportFiles.WriteCsv(w, docs), "the CSV");
            if (p.GetValue(json) is { } jsonPath) ReportFiles.WriteTo(jsonPath, o.Out, w => ReportFiles.WriteJson(w, document), "the JSON");
            if (!p.GetValue(noHtml))
            {
                var path = p.GetValue(output) ?? ReportFiles.DefaultHtmlPath(target, list);
                ReportFiles.WriteHtml(path, document);
                o.Err.WriteLine($"report written to {Path.GetFullPath(path)}");
            }
            return ExitCodes.Ok;
        }));
        return c;
    }
}
