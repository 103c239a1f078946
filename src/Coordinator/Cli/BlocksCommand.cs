using System.CommandLine;
using System.Globalization;
using System.Text;
using NasCluster.EvaluatorNode.Analysis;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Util;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster blocks</c>: the neural block analyzer.</summary>
internal static class BlocksCommand
{
    public static Command Build()
    {
        var blocks = new Command("blocks", "Neural block analyzer: params, MACs, latency, energy and utilisation of every IBN variant over a grid of shapes.");
        var hardware = EstimateCommand.HardwareOption();
        var json = new Option<bool>("--json") { Description = "Print the grid as JSON." };
        var csv = new Option<bool>("--csv") { Description = "Print the grid as CSV." };
        var plot = new Option<string?>("--plot") { Description = "Write latency vs parameters per variant (the paper's Figure 10) to an .svg file." };
        var suggest = new Option<bool>("--suggest-rules") { Description = "Print search-space rules that prune the variants the in-place analysis (--stages) prunes at a stage." };
        var stagesOption = new Option<bool>("--stages") { Description = "Price every variant in place: each stage of MobileNetEdgeTPUv2-S built from it, the whole network priced; with the verdict per variant." };
        var findings = new Option<bool>("--findings") { Description = "Check the paper's block findings (fused late, minimum group size, fused early) against the in-place analysis." };
        var kernel = Options.Int("--kernel", "Kernel size of the blocks.", 3);
        var expansion = Options.Int("--expansion", "Expansion ratio of the blocks.", 4);
        foreach (var opt in new Option[] { hardware, json, csv, plot, suggest, stagesOption, findings, kernel, expansion }) blocks.Add(opt);
        blocks.SetAction(p => CliApp.Guard(p, o =>
        {
            if (p.GetValue(json) && p.GetValue(csv)) throw new NasInputException("choose one of --json and --csv");
            var k = p.GetValue(kernel);
            var e = p.GetValue(expansion);
            if (k < 1 || k % 2 == 0 || k > 15) throw new NasInputException($"--kernel must be odd, 1–15 (got {k})");
            if (e < 1 || e > 16) throw new NasInputException($"--expansion must be 1–16 (got {e})");
            var plotPath = p.GetValue(plot);
            if (plotPath is not null && !plotPath.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
                throw new NasInputException("the plot is written as SVG; give a file name ending in .svg", plotPath);
            var hw = HardwarePresets.Resolve(p.GetValue(hardware)!);
            if (p.GetValue(stagesOption) || p.GetValue(findings))
            {
                if (p.GetValue(csv) || plotPath is not null || p.GetValue(suggest)) throw new NasInputException("--stages and --findings take --json only");
                if (p.GetValue(stagesOption) && p.GetValue(findings)) throw new NasInputException("choose one of --stages and --findings");
                var measured = BlockAnalyzer.MeasureStages(hw);
                if (p.GetValue(findings)) Findings(o, PaperFindings.Evaluate(measured, hw), hw, p.GetValue(json));
                else Stages(o, measured, hw, p.GetValue(json));
                return ExitCodes.Ok;
            }
            var rows = BlockAnalyzer.Measure(hw, k, e);
            if (plotPath is not null) WritePlot(plotPath, SvgPlot.LatencyVsParams(rows, $"IBN variants on {hw.Id}: latency vs parameters (k={k}, e={e})"));
            if (p.GetValue(json)) Json(o, rows);
            else if (p.GetValue(csv)) Csv(o, rows);
            else if (!p.GetValue(suggest)) Human(o, rows, hw);
            if (p.GetValue(suggest)) Suggest(o, hw);
            if (plotPath is not null) o.Err.WriteLine($"plot written to {plotPath}");
            return ExitCodes.Ok;
        }));
        return blocks;
    }

    private static void WritePlot(string path, string svg)
    {
        try
        {
            File.WriteAllText(path, svg);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new NasInputException($"cannot write the plot: {ex.Message}", path);
        }
    }

    private static void Human(CliOutput o, IReadOnlyList<BlockMeasurement> rows, HardwareConfig hw)
    {
        o.Out.WriteLine($"IBN variants on {hw.Id}: latency µs / utilisation / parameters per block (stride 1, input = output width)");
        foreach (var s in BlockAnalyzer.Spatial)
        {
            var table = new Table().Border(TableBorder.Simple).Title($"{s}x{s}");
            table.AddColumn("width");
            foreach (var v in BlockAnalyzer.Variants) table.AddColumn(v.Name);
            foreach (var c in BlockAnalyzer.Widths)
            {
                var cells = new List<string> { c.ToString() };
                cells.AddRange(BlockAnalyzer.Variants.Select(v =>
                {
                    var r = rows.Single(x => x.Spatial == s && x.Channels == c && x.Variant == v);
                    return $"{r.LatencyUs:0.0} / {r.Utilization:0.00} / {Format.Count(r.Params)}";
                }));
                table.AddRow(cells.ToArray());
            }
            o.Console.Write(table);
        }
    }

    private static void Stages(CliOutput o, IReadOnlyList<StageMeasurement> rows, HardwareConfig hw, bool json)
    {
        var verdicts = BlockAnalyzer.PruneStages(rows, hw).ToDictionary(x => x.Stage, x => x.Pruned);
        string Verdict(StageMeasurement r) => !BlockAnalyzer.InSpace(r.Variant) ? "(not in the space)"
            : verdicts[r.Stage].TryGetValue(r.Variant, out var why) ? "pruned: " + why : "kept";
        if (json)
        {
            o.Json(w =>
            {
                w.WriteStartArray();
                foreach (var r in rows)
                {
                    w.WriteStartObject();
                    w.WriteNumber("stage", r.Stage);
                    w.WriteNumber("spatial", r.Spatial);
                    w.WriteNumber("filters", r.Width);
                    w.WriteString("variant", r.Variant.Name);
                    w.WriteString("type", r.Variant.Type);
                    w.WriteNumber("group_size", r.Variant.GroupSize);
                    w.WriteNumber("params", r.Params);
                    w.WriteNumber("latency_us", r.LatencyUs);
                    w.WriteNumber("energy_uj", r.EnergyUj);
                    w.WriteNumber("streamed_bytes", r.StreamedBytes);
                    w.WriteBoolean("pruned", Verdict(r).StartsWith("pruned", StringComparison.Ordinal));
                    w.WriteString("verdict", Verdict(r));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
            return;
        }
        o.Out.WriteLine($"IBN variants in place on {hw.Id}: every block of one stage of MobileNetEdgeTPUv2-S built as the variant (each keeps its");
        o.Out.WriteLine("filters, kernel, stride and expansion); accelerator latency and parameters of the whole network.");
        foreach (var stage in rows.GroupBy(r => r.Stage))
        {
            var first = stage.First();
            var fastest = stage.Min(r => r.LatencyUs);
            var table = new Table().Border(TableBorder.Simple).Title($"stage {stage.Key}: {first.Spatial}x{first.Spatial}, {first.Width} filters");
            foreach (var c in new[] { "variant", "latency µs", "vs fastest", "params", "streamed", "verdict" }) table.AddColumn(c);
            foreach (var r in stage)
                table.AddRow(Markup.Escape(r.Variant.Name), $"{r.LatencyUs:0.0}", $"+{r.LatencyUs - fastest:0.0}", Format.Count(r.Params),
                    Format.Bytes(r.StreamedBytes), Markup.Escape(Verdict(r)));
            o.Console.Write(table);
        }
    }

    private static void Findings(CliOutput o, IReadOnlyList<Finding> findings, HardwareConfig hw, bool json)
    {
        if (json)
        {
            o.Json(w =>
            {
                w.WriteStartArray();
                foreach (var f in findings)
                {
                    w.WriteStartObject();
                    w.WriteString("id", f.Id);
                    w.WriteString("claim", f.Claim);
                    w.WriteBoolean("holds", f.Holds);
                    w.WriteString("detail", f.Detail);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
            return;
        }
        o.Out.WriteLine($"The paper's block findings on {hw.Id} (in-place analysis; docs/ppe.md says where the model disagrees and why):");
        foreach (var f in findings)
            o.Out.WriteLine($"  [{(f.Holds ? "holds" : "differs")}] {f.Id}: {f.Claim}\n          {f.Detail}");
    }

    private static void Json(CliOutput o, IReadOnlyList<BlockMeasurement> rows) => o.Json(w =>
    {
        w.WriteStartArray();
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteString("variant", r.Variant.Name);
            w.WriteString("type", r.Variant.Type);
            w.WriteNumber("group_size", r.Variant.GroupSize);
            w.WriteNumber("spatial", r.Spatial);
            w.WriteNumber("channels", r.Channels);
            w.WriteNumber("params", r.Params);
            w.WriteNumber("macs", r.Macs);
            w.WriteNumber("latency_us", r.LatencyUs);
            w.WriteNumber("energy_uj", r.EnergyUj);
            w.WriteNumber("utilization", r.Utilization);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    private static void Csv(CliOutput o, IReadOnlyList<BlockMeasurement> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("variant,type,group_size,spatial,channels,params,macs,latency_us,energy_uj,utilization\n");
        foreach (var r in rows)
            sb.Append(string.Join(",", r.Variant.Name, r.Variant.Type, r.Variant.GroupSize.ToString(inv), r.Spatial.ToString(inv), r.Channels.ToString(inv),
                r.Params.ToString(inv), r.Macs.ToString(inv), r.LatencyUs.ToString("0.####", inv), r.EnergyUj.ToString("0.####", inv),
                r.Utilization.ToString("0.####", inv))).Append('\n');
        o.Out.Write(sb.ToString());
    }

    private static readonly System.Text.Json.JsonSerializerOptions RelaxedJson = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static void Suggest(CliOutput o, HardwareConfig hw)
    {
        var rules = BlockAnalyzer.SuggestRules(BlockAnalyzer.MeasureStages(hw), hw);
        o.Out.WriteLine($"// Suggested rules for {hw.Id}; stages are those of the built-in classification space at 224x224");
        o.Out.WriteLine("// (112x112 = stage 0, 56 = 1, 28 = 2, 14 = 3-4, 7 = 5-6). Paste into a space's \"rules\" array.");
        o.Out.WriteLine("[");
        for (var i = 0; i < rules.Count; i++)
        {
            var r = rules[i];
            var forbid = string.Join(", ", r.Forbid.Select(f => int.TryParse(f, out _) ? f : $"\"{f}\""));
            o.Out.WriteLine($"  {{\"field\": \"{r.Field}\", \"stages\": [{string.Join(", ", r.Stages)}], \"forbid\": [{forbid}], \"why\": {System.Text.Json.JsonSerializer.Serialize(r.Why, RelaxedJson)}}}{(i + 1 < rules.Count ? "," : "")}");
        }
        o.Out.WriteLine("]");
    }
}
