using System.CommandLine;
using System.Text.Json;
using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Util;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster estimate TARGET</c>: latency, energy and power of one network on one accelerator.</summary>
internal static class EstimateCommand
{
    public static Command Build()
    {
        var estimate = new Command("estimate", "Estimate latency, energy and power of a zoo model or an arch.json file on an Edge TPU-class accelerator.");
        var target = new Argument<string>("TARGET") { Description = "A zoo name or an arch.json file." };
        var hardware = HardwareOption();
        var fidelity = FidelityOption();
        var resolution = Options.OptionalInt("--resolution", "Input resolution of a zoo model (default: its standard one).");
        var json = new Option<bool>("--json") { Description = "Print a JSON object." };
        estimate.Add(target);
        estimate.Add(hardware);
        estimate.Add(fidelity);
        estimate.Add(resolution);
        estimate.Add(json);
        estimate.SetAction(p => CliApp.Guard(p, o =>
        {
            var hw = HardwarePresets.Resolve(p.GetValue(hardware)!);
            var network = Targets.Resolve(p.GetValue(target)!, p.GetValue(resolution));
            var report = CostModel.Estimate(network, hw, ParseFidelity(p.GetValue(fidelity)!));
            if (p.GetValue(json)) o.Json(w => WriteJson(w, network.Name, network.Hash, report));
            else WriteHuman(o, network.Name, report);
            return ExitCodes.Ok;
        }));
        return estimate;
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

    public static string BoundName(Bound b) => b switch
    {
        Bound.Compute => "compute",
        Bound.ActivationBandwidth => "activation bandwidth",
        Bound.WeightLoad => "weight load",
        Bound.OffChip => "off-chip",
        _ => "overhead",
    };

    private static string MappingName(Mapping m) => m switch
    {
        Mapping.SpatialSplit => "spatial",
        Mapping.ChannelSplit => "channel",
        Mapping.Vector => "vector",
        _ => "-",
    };

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
        w.WriteNumber("energy_mj", r.EnergyMj);
        w.WriteNumber("power_w", r.PowerW);
        w.WriteNumber("utilization", r.Utilization);
        w.WriteNumber("params", r.Params);
        w.WriteNumber("macs", r.Macs);
        w.WriteNumber("cached_weight_bytes", r.CachedWeightBytes);
        w.WriteNumber("streamed_weight_bytes", r.StreamedWeightBytes);
        w.WriteNumber("activation_spill_bytes", r.ActivationSpillBytes);
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
        grid.AddRow("latency", $"{r.LatencyMs:0.000} ms (simulated {r.SimulatedMs:0.000} ms, runtime overhead {r.RuntimeOverheadMs:0.000} ms)");
        grid.AddRow("energy", $"{r.EnergyMj:0.000} mJ per inference");
        grid.AddRow("power", $"{r.PowerW:0.000} W average while running");
        grid.AddRow("utilization", $"{r.Utilization:P1} of peak MACs");
        grid.AddRow("params / MACs", $"{Format.Count(r.Params)} / {Format.Count(r.Macs)}");
        grid.AddRow("weights", $"{Format.Bytes(r.CachedWeightBytes)} cached on chip, {Format.Bytes(r.StreamedWeightBytes)} streamed every inference");
        if (r.ActivationSpillBytes > 0) grid.AddRow("activation spill", Format.Bytes(r.ActivationSpillBytes));
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
