using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.Coordinator.Rewards;
using NasCluster.NodeHosting;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using NasCluster.TrainerNode.Training;
using JsonNode = System.Text.Json.Nodes.JsonNode;

namespace NasCluster.Coordinator.Export;

/// <summary>Which weights an exported ONNX model carries.</summary>
public enum ExportWeights
{
    /// <summary>Freshly initialised (seeded) at full size: the architecture, for training elsewhere.</summary>
    Fresh,

    /// <summary>The trial's trained proxy weights, at proxy scale (the network the trainer trained).</summary>
    Proxy,
}

/// <summary>What <c>nascluster export</c> is asked for.</summary>
public sealed record ExportRequest
{
    public required string Experiment { get; init; }

    /// <summary>A trial id, "best" or "pareto" (the quality-vs-latency front).</summary>
    public required string Trials { get; init; }

    public bool Arch { get; init; } = true;
    public bool Onnx { get; init; } = true;
    public ExportWeights Weights { get; init; } = ExportWeights.Fresh;

    /// <summary>Seed of fresh weights.</summary>
    public long Seed { get; init; }

    /// <summary>Null: <c>EXPERIMENT-export</c> beside a SQLite database, or in the current directory.</summary>
    public string? OutputDirectory { get; init; }
}

/// <summary>One exported trial: its folder and files.</summary>
public sealed record ExportedTrial(int Trial, string Directory, IReadOnlyList<string> Files, string ArchitectureHash, string? OnnxHash);

/// <summary>
/// Export of chosen trials for evaluation and deployment (the paper's model generator, §3.2): per trial a
/// folder with the arch.json (the IR, the trial's own hash), an ONNX model and a model card (metrics,
/// decisions, provenance, files and their SHA-256). Each folder is written under a temporary name and
/// renamed when complete, so a failure leaves nothing half-written.
/// </summary>
public static class ModelExport
{
    public static string DefaultDirectory(DatabaseTarget db, string experiment) => Path.Combine(db.LocalDirectory, experiment + "-export");

    /// <exception cref="NasInputException">Unknown experiment or trial, no kept weights, an unwritable place, an op the exporter cannot write.</exception>
    public static IReadOnlyList<ExportedTrial> Run(DatabaseTarget db, ExportRequest request)
    {
        var x = ExperimentStore.Load(db, request.Experiment);
        var s = x.State;
        var space = SearchSpaceLoader.Parse(s.Spec.SpaceJson, s.Spec.SpaceSource);
        var trials = Select(s, request.Trials);
        var outDir = request.OutputDirectory ?? DefaultDirectory(db, request.Experiment);
        // Everything that can be refused is checked before anything is written.
        var plans = trials.Select(t => Plan(s, space, t, request)).ToList();
        var done = new List<ExportedTrial>();
        foreach (var plan in plans) done.Add(Write(x, space, plan, request, outDir));
        return done;
    }

    private sealed record TrialPlan(TrialState Trial, TrialState Source, Network Full, Network? Onnx, string? WeightsFile);

    private static List<TrialState> Select(ExperimentState s, string which)
    {
        switch (which)
        {
            case "best":
                return s.Best is { } best ? [s.Source(best.Trial)] : throw new NasInputException($"experiment '{s.Spec.Name}' has no completed trial yet");
            case "pareto":
                var front = s.FrontIds(CostMetric.LatencyMs).Select(id => s.Trials[id]).ToList();
                return front.Count > 0 ? front : throw new NasInputException($"experiment '{s.Spec.Name}' has no completed trial yet");
            default:
                if (!int.TryParse(which, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    throw new NasInputException($"--trial must be a trial number, 'best' or 'pareto' (got '{which}')");
                if (id >= s.Trials.Count) throw new NasInputException($"experiment '{s.Spec.Name}' has no trial {id} (it has {s.Trials.Count}: 0–{s.Trials.Count - 1})");
                var t = s.Trials[id];
                if (s.Measurement(t) is null)
                    throw new NasInputException($"trial {id} of '{s.Spec.Name}' is {(s.IsFailed(t) ? $"failed ({s.FailureOf(t)})" : "not finished")}; export a completed trial");
                return [t];
        }
    }

    private static TrialPlan Plan(ExperimentState s, Space space, TrialState t, ExportRequest request)
    {
        var source = s.Source(t);
        var full = space.Build(space.FromVector(t.Vector)).Rename($"{s.Spec.Name}-trial{t.Id}");
        if (!request.Onnx) return new TrialPlan(t, source, full, null, null);
        if (request.Weights == ExportWeights.Fresh) return new TrialPlan(t, source, full, full, null);
        var q = source.Quality;
        if (s.Spec.QualityMode != QualityMode.Proxy || q?.WeightsPath is null)
            throw new NasInputException($"no proxy weights were kept for trial {t.Id} of '{s.Spec.Name}'" +
                                        (s.Spec.QualityMode != QualityMode.Proxy ? " (its quality is synthetic: nothing was trained)" : "") + "; export with fresh weights (omit --weights)");
        if (!File.Exists(q.WeightsPath))
            throw new NasInputException(WeightsRetention.Kept(s, source.Id)
                ? $"the proxy weights of trial {t.Id} are not here ({q.WeightsPath}; a trainer on another machine keeps them in its --weights-dir)"
                : $"no proxy weights were kept for trial {t.Id}: weights are kept for Pareto-optimal trials only; export it with fresh weights (omit --weights)");
        if (q.WeightsSha256 is not null && Sha256(q.WeightsPath) != q.WeightsSha256)
            throw new NasInputException($"the proxy weights of trial {t.Id} changed since training ({q.WeightsPath}: SHA-256 differs from the journal's)");
        return new TrialPlan(t, source, full, ProxyScaling.Scale(full, TrainerNode.Training.ProxyRecipes.SpecOf(s.Spec.Training)), q.WeightsPath);
    }

    private static ExportedTrial Write(StoredExperiment x, Space space, TrialPlan plan, ExportRequest request, string outDir)
    {
        var name = $"{x.Name}-trial{plan.Trial.Id}";
        var final = Path.Combine(outDir, name);
        var files = new List<(string File, string Sha)>();
        string? onnxHash = null;
        AtomicFile.WriteDirectory(final, tmp =>
        {
            void Save(string file, byte[] bytes)
            {
                File.WriteAllBytes(Path.Combine(tmp, file), bytes);
                files.Add((file, Convert.ToHexStringLower(SHA256.HashData(bytes))));
            }
            if (request.Arch) Save("arch.json", Encoding.UTF8.GetBytes(ArchJson.Write(plan.Full)));
            string? readsBackAs = null;
            if (plan.Onnx is { } net)
            {
                using var module = TrainingLoop.Build(net, request.Seed);
                if (plan.WeightsFile is not null) module.load(plan.WeightsFile);
                var weights = IrWeights.Of(module);
                var bytes = OnnxExporter.Export(net, n => weights.GetValueOrDefault(n), $"nascluster {Analysis.ReportPage.CodeVersion}");
                Save("model.onnx", bytes);
                onnxHash = net.Hash;
                // Self-check, recorded in the card: what the file reads back as through the importer.
                readsBackAs = OnnxImporter.Read(bytes, name).Hash;
            }
            var card = Card(x, space, plan, request, onnxHash, readsBackAs, files);
            Save("model-card.json", Encoding.UTF8.GetBytes(card.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
            File.WriteAllText(Path.Combine(tmp, "model-card.md"), CardMarkdown(card));
        }, "the export");
        return new ExportedTrial(plan.Trial.Id, final, [.. files.Select(f => f.File), "model-card.md"], plan.Full.Hash, onnxHash);
    }

    private static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    private static JsonObject Card(StoredExperiment x, Space space, TrialPlan plan, ExportRequest request, string? onnxHash, string? readsBackAs,
        List<(string File, string Sha)> files)
    {
        var s = x.State;
        var spec = s.Spec;
        var cost = plan.Source.Cost!;
        var candidate = space.FromVector(plan.Trial.Vector);
        var decisions = new JsonObject();
        for (var i = 0; i < space.Decisions.Length; i++) decisions[space.Decisions[i].Name] = JsonValue.Create(candidate.Values[i].ToString());
        return new JsonObject
        {
            ["model"] = plan.Full.Name,
            ["experiment"] = x.Name,
            ["trial"] = plan.Trial.Id,
            ["architecture_hash"] = plan.Full.Hash,
            ["metrics"] = new JsonObject
            {
                ["reward"] = s.Reward(plan.Trial),
                ["quality"] = plan.Source.Quality?.Score,
                ["quality_kind"] = spec.QualityMode == QualityMode.Proxy ? $"proxy {ExperimentSpecs.QualityMetric(spec)} at proxy scale: {ExperimentSpecs.DescribeQuality(spec)}" : "synthetic (no training)",
                ["latency_ms"] = cost.LatencyMs,
                ["energy_mj"] = cost.EnergyMj,
                ["params"] = cost.Params,
                ["macs"] = cost.Macs,
                ["pareto_latency"] = s.FrontIds(CostMetric.LatencyMs).Contains(plan.Source.Id),
            },
            ["decisions"] = decisions,
            ["network"] = new JsonObject
            {
                ["input"] = plan.Full.Infos[0].OutputShape.ToString(),
                ["layers"] = plan.Full.Layers.Length,
                ["params"] = plan.Full.Params,
                ["macs"] = plan.Full.Macs,
            },
            ["onnx"] = onnxHash is null ? null : new JsonObject
            {
                ["opset"] = OnnxExporter.Opset,
                ["weights"] = request.Weights == ExportWeights.Fresh
                    ? $"freshly initialised (seed {request.Seed}), full size"
                    : $"the trial's trained proxy weights, at proxy scale ({plan.WeightsFile})",
                ["architecture_hash"] = onnxHash,
                // ONNX → IR (nascluster arch show model.onnx) gives this hash; equal unless an activation other than
                // ReLU/ReLU6 is fused into a conv (it comes back as its own layer, same params and MACs).
                ["reads_back_as"] = readsBackAs,
                ["layout"] = "NCHW float32, batch dimension N; 'same' padding as TensorFlow (extra row/column after)",
            },
            ["provenance"] = new JsonObject
            {
                ["space"] = spec.SpaceSource,
                ["space_fingerprint"] = spec.SpaceFingerprint,
                ["hardware"] = spec.Hardware,
                ["hardware_fingerprint"] = spec.HardwareFingerprint,
                ["simulator"] = spec.SimulatorVersion,
                ["fidelity"] = Shared.Protocol.Kinds.Name(spec.Fidelity),
                ["controller"] = Shared.Protocol.Kinds.Name(spec.Controller),
                ["seed"] = spec.Seed,
                ["objective"] = s.RewardFunction.Describe(),
                ["code_version"] = Analysis.ReportPage.CodeVersion,
            },
            ["files"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject { ["file"] = f.File, ["sha256"] = f.Sha }).ToArray()),
        };
    }

    private static string CardMarkdown(JsonObject card)
    {
        var m = card["metrics"]!;
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"# {card["model"]}\n\n");
        b.Append(CultureInfo.InvariantCulture, $"Trial {card["trial"]} of experiment `{card["experiment"]}`, architecture hash `{card["architecture_hash"]}`.\n\n");
        b.Append("## Metrics\n\n| metric | value |\n|---|---|\n");
        foreach (var (k, v) in m.AsObject()) b.Append(CultureInfo.InvariantCulture, $"| {k} | {v?.ToJsonString().Trim('"')} |\n");
        b.Append("\nLatency and energy are the project's Edge TPU simulator's (see provenance), not a measurement on a device.\n");
        if (card["onnx"] is JsonObject onnx)
            b.Append(CultureInfo.InvariantCulture, $"\n## ONNX\n\nopset {onnx["opset"]}; weights: {onnx["weights"]}; {onnx["layout"]}.\n");
        b.Append("\n## Decisions\n\n");
        foreach (var (k, v) in card["decisions"]!.AsObject()) b.Append(CultureInfo.InvariantCulture, $"- `{k}` = {v}\n");
        b.Append("\n## Provenance\n\n");
        foreach (var (k, v) in card["provenance"]!.AsObject()) b.Append(CultureInfo.InvariantCulture, $"- {k}: {v?.ToJsonString().Trim('"')}\n");
        b.Append("\n## Files\n\n");
        foreach (var f in card["files"]!.AsArray()) b.Append(CultureInfo.InvariantCulture, $"- `{f!["file"]}` sha256 `{f["sha256"]}`\n");
        return b.ToString();
    }
}
