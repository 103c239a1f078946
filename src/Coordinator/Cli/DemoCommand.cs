using System.CommandLine;
using System.Globalization;
using NasCluster.Coordinator.Experiments;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// <c>nascluster demo</c>: the README's main job. A real, short search on the embedded defaults — every role
/// in this process, a SQLite journal, the paper's classification space, REINFORCE, costs from the simulated
/// Pixel 6 Edge TPU and quality from distillation proxies trained with TorchSharp on Fashion-MNIST — under a
/// fresh name, so it can be run again. It prints the equivalent <c>search</c> command first.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var demo = new Command("demo", "A real, short architecture search on the built-in defaults (standalone, SQLite, proxy training); about 4 minutes on 2 cores once the teacher is trained.");
        var name = new Option<string?>("--name") { Description = "Experiment name (default demo-<date>-<time>)." };
        var trials = Options.Int("--trials", "Trials.", 12);
        var batch = Options.Int("--batch", "Trials per controller batch.", 4);
        var steps = Options.Int("--proxy-steps", "Training steps per proxy.", 200);
        var quality = new Option<string>("--quality") { Description = "proxy, or synthetic for a seconds-long run without training.", DefaultValueFactory = _ => "proxy" };
        var db = new Option<string>("--db") { Description = $"Experiment database (default {NodeConfig.DefaultDb}).", DefaultValueFactory = _ => NodeConfig.DefaultDb };
        var seed = Options.Long("--seed", "Controller seed.", 1);
        foreach (var o in new Option[] { name, trials, batch, steps, quality, db, seed }) demo.Add(o);
        demo.SetAction(p => CliApp.Guard(p, o =>
        {
            var experiment = p.GetValue(name) ?? $"demo-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}";
            var request = new SearchRequest
            {
                Name = experiment,
                Space = "mnv2-edgetpu-classification",
                Trials = p.GetValue(trials),
                BatchSize = p.GetValue(batch),
                ProxySteps = p.GetValue(steps),
                Quality = p.GetValue(quality)!,
                Seed = p.GetValue(seed),
            };
            var spec = ExperimentSpecs.Build(request);
            var dbPath = p.GetValue(db)!;
            o.Err.WriteLine($"running: nascluster search --space {request.Space} --name {experiment} --trials {request.Trials} --batch {request.BatchSize} --mode {Kinds.Name(spec.Mode)} --window {spec.PipelineWindow} " +
                            $"--proxy-steps {request.ProxySteps} --quality {request.Quality} --seed {request.Seed} --db {dbPath}");
            if (request.Quality == "proxy")
                o.Err.WriteLine("(the first run trains the distillation teacher once, about 5 minutes on two cores; later runs reuse it)");
            var options = new SessionOptions
            {
                Node = NodeConfig.FromEnvironment(new NodeOptions()) with { Db = dbPath, Seeds = [] },
                WeightsDirectory = ExperimentCommands.DefaultWeightsDirectory(NodeConfig.ParseDb(dbPath)),
            };
            var code = SearchSession.Run(o, options, new StartExperiment(spec), experiment);
            if (code == ExitCodes.Ok)
            {
                var hint = SearchSession.DbHint(NodeConfig.ParseDb(dbPath));
                o.Out.WriteLine($"Next: `nascluster status {experiment}{hint}` (add --json for every trial), `nascluster list{hint}`, " +
                                "or a search of your own: `nascluster search --space FILE|NAME --name NAME` (see `nascluster search --help`).");
            }
            return code;
        }));
        return demo;
    }
}
