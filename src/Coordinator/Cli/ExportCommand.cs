using System.CommandLine;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Export;
using NasCluster.NodeHosting;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster export</c>: chosen trials as arch.json, ONNX and a model card.</summary>
internal static class ExportCommand
{
    public static Command Build()
    {
        var c = new Command("export", "Export chosen trials of an experiment: arch.json (the IR), an ONNX model (opset 17) and a model card per trial.");
        var name = new Argument<string>("EXPERIMENT") { Description = "The experiment's name." };
        var trial = new Option<string>("--trial") { Description = "A trial number, best, or pareto (every trial on the quality-vs-latency front).", DefaultValueFactory = _ => "best" };
        var format = new Option<string>("--format") { Description = "What to write besides the model card: arch, onnx, or arch,onnx.", DefaultValueFactory = _ => "arch,onnx" };
        var weights = new Option<string>("--weights") { Description = "ONNX weights: fresh (seeded initialisation, full size) or proxy (the trial's trained proxy weights, proxy scale).", DefaultValueFactory = _ => "fresh" };
        var seed = Options.Long("--seed", "Seed of fresh weights.", 0);
        var output = new Option<string?>("--out") { Description = "Folder of the export (default EXPERIMENT-export beside a SQLite database, or in this directory)." };
        var db = ExperimentCommands.DbOption();
        c.Add(name);
        foreach (var o in new Option[] { trial, format, weights, seed, output, db }) c.Add(o);
        c.SetAction(p => CliApp.Guard(p, o =>
        {
            var experiment = p.GetValue(name)!;
            ExperimentSpecs.ValidateName(experiment);
            var formats = p.GetValue(format)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = formats.FirstOrDefault(f => f is not ("arch" or "onnx"));
            if (unknown is not null || formats.Length == 0) throw new NasInputException($"--format takes arch, onnx or both (got '{p.GetValue(format)}')");
            var request = new ExportRequest
            {
                Experiment = experiment,
                Trials = p.GetValue(trial)!,
                Arch = formats.Contains("arch"),
                Onnx = formats.Contains("onnx"),
                Weights = p.GetValue(weights) switch
                {
                    "fresh" => ExportWeights.Fresh,
                    "proxy" => ExportWeights.Proxy,
                    var w => throw new NasInputException($"--weights must be fresh or proxy (got '{w}')"),
                },
                Seed = p.GetValue(seed),
                OutputDirectory = p.GetValue(output),
            };
            foreach (var t in ModelExport.Run(NodeConfig.ParseDb(p.GetValue(db)!), request))
                o.Out.WriteLine($"trial {t.Trial}: {t.Directory} ({string.Join(", ", t.Files)})");
            return ExitCodes.Ok;
        }));
        return c;
    }
}
