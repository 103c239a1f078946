using System.CommandLine;
using System.Text.Json;
using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster estimate TARGET</c>: latency, energy and power of one network on one accelerator.</summary>
internal static class EstimateCommand
{
    public static Command Build()
    {
        var estimate = new Command("estimate", "Estimate latency, energy and power of a zoo model, an arch.json file or an ONNX model on an Edge TPU-class accelerator.");
        var target = new Argument<string>("TARGET") { Description = "A zoo name, an arch.json file or an ONNX model (.onnx); omit with --batch.", Arity = ArgumentArity.ZeroOrOne };
        var hardware = HardwareOption();
        var fidelity = FidelityOption();
        var resolution = Options.OptionalInt("--resolution", "Input resolution of a zoo model (default: its standard one).");
        var json = new Option<bool>("--json") { Description = "Print a JSON object." };
        var batch = new Option<bool>("--batch") { Description = "Read candidates of --space as JSON lines on stdin; print one JSON result per line (for external drivers)." };
        var space = new Option<string?>("--space") { Description = "The search space of the --batch candidates (file or built-in name)." };
        var quality = new Option<string?>("--quality") { Description = "With --batch: 'synthetic' adds the benchmarks' synthetic quality and the reward (never for real searches)." };
        var objective = new Option<string>("--objective") { Description = "With --batch --quality: quality, mnas, tunas or hard.", DefaultValueFactory = _ => "mnas" };
        var latencyTarget = new Option<double?>("--latency-target-ms") { Description = "Latency target T0 (ms) of the objective." };
        var energyTarget = new Option<double?>("--energy-target-mj") { Description = "Energy target (mJ) of the objective." };
        foreach (var o in new Option[] { batch, space, quality, objective, latencyTarget, energyTarget }) estimate.Add(o);
        estimate.Add(target);
        estimate.Add(hardware);
        estimate.Add(fidelity);
        estimate.Add(resolution);
        estimate.Add(json);
        estimate.SetAction(p => CliApp.Guard(p, o =>
        {
            var hw = HardwarePresets.Resolve(p.GetValue(hardware)!);
            if (p.GetValue(batch))
            {
                if (p.GetValue(target) is not null) throw new NasInputException("--batch reads candidates from stdin; do not give a TARGET");
                var spaceName = p.GetValue(space) ?? throw new NasInputException("--batch needs --space");
                var reward = p.GetValue(quality) switch
                {
                    null => null,
                    "synthetic" => RewardFunction.Parse(p.GetValue(objective)!, p.GetValue(latencyTarget), p.GetValue(energyTarget), null),
                    var q => throw new NasInputException($"--quality must be 'synthetic' (got '{q}')"),
                };
                return Batch(o, o.In, BuiltInSpaces.Resolve(spaceName), hw, ParseFidelity(p.GetValue(fidelity)!), reward);
            }
            var name = p.GetValue(target) ?? throw new NasInputException("give a TARGET (a zoo name or an arch.json file), or --batch");
            var network = Targets.Resolve(name, p.GetValue(resolution));
            var report = CostModel.Estimate(network, hw, ParseFidelity(p.GetValue(fidelity)!));
            if (p.GetValue(json)) o.Json(w => WriteJson(w, network.Name, network.Hash, report));
            else WriteHuman(o, network.Name, report);
            return ExitCodes.Ok;
        }));
        return estimate;
    }

    /// <summary>
    /// One candidate per input line (a decision name → value object, or an object with a "candidate" key as
    /// `spaces sample --json` prints); one result per output line, flushed at once so a driver can keep
    /// the process open. A bad line yields {"error": ...} and the loop goes on.
    /// </summary>
    internal static int Batch(CliOutput o, TextReader input, Space space, HardwareConfig hw, Fidelity fidelity, RewardFunction? reward)
    {
        var cache = new LayerCostCache();
        var number = 0;
        for (var line = input.ReadLine(); line is not null; line = input.ReadLine())
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var candidate = space.ParseCandidate(JsonNode.Parse(line, $"stdin line {number}"));
                var network = space.Build(candidate);
                var r = CostModel.Estimate(network, hw, fidelity, cache);
                o.Json(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("hash", network.Hash);
                    w.WriteNumber("params", network.Params);
                    w.WriteNumber("macs", network.Macs);
                    w.WriteNumber("latency_ms", r.LatencyMs);
                    w.WriteNumber("energy_mj", r.EnergyMj);
                    if (reward is not null)
                    {
                        var q = SyntheticQuality.Of(network);
                        w.WriteNumber("quality", q);
                        w.WriteNumber("reward", reward.Reward(new TrialMeasurement(q, r.LatencyMs, r.EnergyMj, network.Params)));
                    }
                    w.WriteEndObject();
                }, indented: false);
            }
            catch (NasInputException e)
            {
                o.Json(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("error", e.Message);
                    w.WriteEndObject();
                }, indented: false);
            }
            o.Out.Flush();
        }
        return ExitCodes.Ok;
    }

    public static Option<string> HardwareOption() => new("--hardware")
    {
        Description = $"A preset ({string.Join(", ", HardwarePresets.Names)}) or a hardware JSON file.",
        DefaultValueFactory = _ => HardwarePresets.Default,
    };

    public static Option<string> FidelityOption() => new("--fidelity")
    {
        Description = "analytical (closed form, fast) or detailed (tile-level discrete-event simulation).",
        DefaultValueFactory = _ => "analytical",
    };

    public static Fidelity ParseFidelity(string s) => s switch
    {
        "analytical" => Fidelity.Analytical,
        "detailed" => Fidelity.Detailed,
        _ => throw new NasInputException($"--fidelity must be 'analytical' or 'detailed' (got '{s}')"),
    };

    public static string BoundName(Bound b) => CostReportWire.Name(b);

    private static string MappingName(Mapping m) => CostReportWire.Name(m);

    public static void WriteJson(Utf8JsonWriter w, string name, string hash, CostReport r)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("hash", hash);
        w.WriteString("hardware", r.Hardware);
        w.WriteString("fidelity", r.Fidelity == Fidelity.Analytical ? "analytical" : "detailed");
        w.WriteNumber("latency_ms", r.LatencyMs);
        w.WriteNumber("simulated_ms", r.SimulatedMs);
        w.WriteNumber("runtime_overhead_ms", r.RuntimeOverheadMs);
        w.WriteNumber("accelerator_ms", r.LatencyMs - r.Host.TotalMs);
        w.WriteStartObject("host");
        w.WriteNumber("total_ms", r.Host.TotalMs);
        w.WriteNumber("share", r.LatencyMs > 0 ? r.Host.TotalMs / r.LatencyMs : 0);
        w.WriteNumber("invocation_ms", r.Host.InvocationMs);
        w.WriteNumber("input_ms", r.Host.InputMs);
        w.WriteNumber("output_ms", r.Host.OutputMs);
        w.WriteNumber("link_latency_ms", r.Host.LinkLatencyMs);
        w.WriteNumber("cpu_ms", r.Host.CpuMs);
        w.WriteEndObject();
        w.WriteNumber("energy_mj", r.EnergyMj);
        w.WriteNumber("power_w", r.PowerW);
        w.WriteNumber("average_power_w", r.AveragePowerW);
        w.WriteNumber("power_budget_w", r.PowerBudgetW);
        w.WriteBoolean("over_power_budget", r.OverPowerBudget);
        w.WriteNumber("utilization", r.Utilization);
        w.WriteNumber("params", r.Params);
        w.WriteNumber("macs", r.Macs);
        w.WriteNumber("cached_weight_bytes", r.CachedWeightBytes);
        w.WriteNumber("streamed_weight_bytes", r.StreamedWeightBytes);
        w.WriteNumber("activation_spill_bytes", r.ActivationSpillBytes);
        w.WriteNumber("cpu_ms", r.Host.CpuMs);
        w.WriteStartArray("segments");
        foreach (var s in r.Segments)
        {
            w.WriteStartObject();
            w.WriteString("device", s.Device);
            w.WriteString("first_layer", s.FirstLayer);
            w.WriteString("last_layer", s.LastLayer);
            w.WriteNumber("layers", s.Layers);
            w.WriteNumber("ms", s.Ms);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("layers");
        foreach (var l in r.Layers)
        {
            w.WriteStartObject();
            w.WriteString("name", l.Name);
            w.WriteString("op", l.Op);
            w.WriteString("mapping", MappingName(l.Mapping));
            w.WriteNumber("latency_ms", l.LatencyMs);
            w.WriteNumber("energy_uj", l.EnergyUj);
            w.WriteNumber("utilization", l.Utilization);
            w.WriteString("bound", BoundName(l.Bound));
            w.WriteNumber("macs", l.Macs);
            w.WriteNumber("off_chip_bytes", l.OffChipBytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteHuman(CliOutput o, string name, CostReport r)
    {
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("network", Markup.Escape(name));
        grid.AddRow("hardware", $"{r.Hardware} ({(r.Fidelity == Fidelity.Analytical ? "analytical model" : "tile-level simulation")})");
        var h = r.Host;
        grid.AddRow("latency", $"{r.LatencyMs:0.000} ms = accelerator {r.LatencyMs - h.TotalMs:0.000} ms (simulated {r.SimulatedMs:0.000} ms) + host {h.TotalMs:0.000} ms ({(r.LatencyMs > 0 ? h.TotalMs / r.LatencyMs : 0):P0})");
        grid.AddRow("host", $"invocation {h.InvocationMs:0.000} ms, input {h.InputMs:0.000} ms, output {h.OutputMs:0.000} ms, link latency {h.LinkLatencyMs:0.000} ms, CPU {h.CpuMs:0.000} ms");
        grid.AddRow("energy", $"{r.EnergyMj:0.000} mJ per inference (static power over the whole latency included)");
        grid.AddRow("power", $"{r.PowerW:0.000} W active (idle subtracted), {r.AveragePowerW:0.000} W average of a {r.PowerBudgetW:0.##} W budget"
                             + (r.OverPowerBudget ? " [yellow]— over budget: the device would throttle[/]" : ""));
        grid.AddRow("utilization", $"{r.Utilization:P1} of peak MACs");
        grid.AddRow("params / MACs", $"{Format.Count(r.Params)} / {Format.Count(r.Macs)}");
        grid.AddRow("weights", $"{Format.Bytes(r.CachedWeightBytes)} cached on chip, {Format.Bytes(r.StreamedWeightBytes)} streamed every inference");
        if (r.ActivationSpillBytes > 0) grid.AddRow("activation spill", Format.Bytes(r.ActivationSpillBytes));
        var tpu = r.Segments.Where(s => !s.OnHost).Sum(s => s.Ms);
        grid.AddRow("TPU / CPU", $"{tpu:0.000} ms on the accelerator, {h.CpuMs:0.000} ms on the host CPU, in {r.Segments.Count} segment{(r.Segments.Count == 1 ? "" : "s")}");
        if (r.Segments.Count > 1 || r.Segments.Any(s => s.OnHost))
            grid.AddRow("segments", Markup.Escape(string.Join(" → ", r.Segments.Select(s =>
                $"{s.Device} {s.FirstLayer}{(s.Layers > 1 ? $" … {s.LastLayer}" : "")} ({s.Layers} layer{(s.Layers == 1 ? "" : "s")}, {s.Ms:0.000} ms)"))));
        o.Console.Write(grid);
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "layer", "op", "mapping", "latency µs", "energy µJ", "util", "bound");
        foreach (var c in table.Columns.Skip(4).Take(3)) c.RightAligned();
        for (var i = 0; i < r.Layers.Count; i++)
        {
            var l = r.Layers[i];
            if (l.Mapping == Mapping.None) continue;
            table.AddRow(i.ToString(), Markup.Escape(l.Name), l.Op, MappingName(l.Mapping), (l.LatencyMs * 1e3).ToString("0.00"),
                l.EnergyUj.ToString("0.00"), l.Utilization.ToString("0.00"), BoundName(l.Bound));
        }
        o.Console.Write(table);
    }
}
