using System.CommandLine;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Training;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster proxy TARGET</c>: train one network's quality proxy and print its score.</summary>
internal static class ProxyCommand
{
    public static Command Build()
    {
        var proxy = new Command("proxy", "Train the quality proxy of a zoo model or arch.json (a classifier: distillation on Fashion-MNIST or --data; a segmenter: scenes of its items, mIoU) and print its score.");
        var target = new Argument<string>("TARGET") { Description = "A zoo name or an arch.json file (an image classifier)." };
        var steps = Options.Int("--steps", "Training steps (the proxy budget).", new TrainingConfig().Steps);
        var seed = Options.Long("--seed", "Seed of weight initialisation and batch order.", 0);
        var json = new Option<bool>("--json") { Description = "Print a JSON object (score, loss, steps_per_s, wall_s, ...)." };
        var data = new Option<string?>("--data")
        {
            Description = $"Dataset: one folder of PNG/JPEG images per class, or Fashion-MNIST-style IDX files (default ${FashionMnist.EnvironmentVariable} or {FashionMnist.DefaultDirectory}); for a text network, WordNet's directory (default ${Glosses.EnvironmentVariable} or {Glosses.DefaultDirectory}).",
        };
        var cache = new Option<string?>("--cache-dir") { Description = "Teacher cache directory (default ~/.cache/nascluster/teachers)." };
        var threads = Options.Int("--threads", "libtorch threads (results are reproducible for a given seed and thread count).", Environment.ProcessorCount);
        var width = new Option<double>("--width") { Description = "Width multiplier of the proxy.", DefaultValueFactory = _ => ProxySpec.Default.WidthMultiplier };
        var save = new Option<string?>("--save-weights") { Description = "Keep the trained student's weights in this file." };
        var noTeacher = new Option<bool>("--no-distillation") { Description = "Train with cross-entropy only (no teacher)." };
        foreach (var o in new Option[] { steps, seed, json, data, cache, threads, width, save, noTeacher }) proxy.Add(o);
        proxy.Add(target);
        proxy.SetAction(p => CliApp.Guard(p, o =>
        {
            var network = Targets.Resolve(p.GetValue(target)!, null);
            var n = p.GetValue(steps);
            if (n < 1) throw new NasInputException($"--steps must be at least 1 (got {n})");
            var t = p.GetValue(threads);
            if (t < 1) throw new NasInputException($"--threads must be at least 1 (got {t})");
            var w = p.GetValue(width);
            if (w <= 0 || w > 4) throw new NasInputException($"--width must be in (0, 4] (got {w})");
            TorchSharp.torch.set_num_threads(t);
            var environment = new ProxyEnvironment
            {
                DataDirectory = p.GetValue(data),
                TeacherCacheDirectory = p.GetValue(cache),
                Spec = ProxySpec.Default with { WidthMultiplier = w },
            };
            ProxyTask task;
            try
            {
                task = ProxyTasks.Of(network);
            }
            catch (NasInputException e)
            {
                throw new NasInputException($"cannot build the proxy: {e.Message}");
            }
            var config = TrainingConfig.For(task) with { Steps = n, Seed = p.GetValue(seed), DistillationWeight = p.GetValue(noTeacher) ? 0 : 1 };
            var progress = new Progress<TrainingProgress>(x => o.Err.WriteLine($"step {x.Step}/{x.Steps}  loss {x.Loss:0.0000}  {x.ElapsedSeconds:0.0} s"));
            if (task == ProxyTask.Text) environment = environment with { DataDirectory = null, TextDirectory = p.GetValue(data) }; // --data names WordNet's directory
            // A bad dataset is one line and exit 2, before anything trains.
            var dataset = task == ProxyTask.Text ? ProxyTrainer.Corpus(environment).Describe() : Datasets.Load(environment.DataDirectory).Describe();
            var result = ProxyTrainer.Run(network, config, environment, progress, p.GetValue(save), msg => o.Err.WriteLine(msg));
            if (p.GetValue(json))
                o.Json(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("name", network.Name);
                    w.WriteString("hash", network.Hash);
                    w.WriteBoolean("succeeded", result.Succeeded);
                    if (result.FailureReason is not null) w.WriteString("failure", result.FailureReason);
                    w.WriteNumber("score", result.Score);
                    w.WriteString("metric", result.Metric);
                    w.WriteNumber("loss", result.Loss);
                    w.WriteNumber("validation_loss", result.ValidationLoss);
                    w.WriteNumber("steps_per_s", result.StepsPerSecond);
                    w.WriteNumber("wall_s", result.WallSeconds);
                    w.WriteNumber("steps", result.Steps);
                    w.WriteNumber("seed", config.Seed);
                    w.WriteNumber("threads", t);
                    w.WriteNumber("proxy_params", result.Params);
                    w.WriteString("data", dataset.Source);
                    w.WriteString("data_hash", dataset.ContentHash);
                    w.WriteNumber("classes", dataset.Classes);
                    w.WriteNumber("channels", dataset.Channels);
                    if (result.WeightsPath is not null)
                    {
                        w.WriteString("weights_path", result.WeightsPath);
                        w.WriteString("weights_sha256", result.WeightsSha256);
                    }
                    w.WriteEndObject();
                });
            else if (result.Succeeded)
            {
                var grid = new Grid().AddColumn().AddColumn();
                grid.AddRow("network", Markup.Escape(network.Name));
                grid.AddRow("proxy score", Markup.Escape(ProxyTasks.UsesScenes(task)
                    ? $"{result.Score:P2} validation {result.Metric} ({environment.ScenesFor(task).ValidationScenes} scenes of items from {dataset.Kind} dataset {dataset.Source}: " +
                      $"{dataset.Classes} classes and the background)"
                    : task == ProxyTask.Text
                        ? $"{result.Score:P2} validation accuracy ({dataset.Kind} from {dataset.Source}: {dataset.Classes} supersenses, {dataset.ValidationImages} held-out glosses)"
                        : $"{result.Score:P2} validation accuracy ({dataset.Kind} dataset {dataset.Source}: {dataset.Classes} classes, {dataset.ValidationImages} held-out images)"));
                grid.AddRow("loss", $"{result.Loss:0.0000} training (last 10% of steps), {result.ValidationLoss:0.0000} validation");
                grid.AddRow("speed", $"{result.Steps} steps at {result.StepsPerSecond:0.0} steps/s, {result.WallSeconds:0.0} s wall ({t} threads)");
                grid.AddRow("proxy size", $"{Format.Count(result.Params)} parameters");
                if (result.WeightsPath is not null) grid.AddRow("weights", Markup.Escape($"{result.WeightsPath} (sha256 {result.WeightsSha256})"));
                o.Console.Write(grid);
            }
            if (!result.Succeeded)
            {
                o.Err.WriteLine($"error: {result.FailureReason}");
                return ExitCodes.BadInput;
            }
            return ExitCodes.Ok;
        }));
        return proxy;
    }
}
