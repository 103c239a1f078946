using System.CommandLine;
using NasCluster.EvaluatorNode.Analysis;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster hardware list|show|calibrate</c>: the accelerator descriptions.</summary>
internal static class HardwareCommands
{
    public static Command Build()
    {
        var hardware = new Command("hardware", "Accelerator presets and custom hardware files.");
        var list = new Command("list", "List the presets.");
        list.SetAction(p => CliApp.Guard(p, o =>
        {
            var table = new Table().Border(TableBorder.Simple).AddColumns("preset", "clock", "PEs", "cores x lanes", "peak", "SRAM", "off-chip", "power at full load", "calibrated", "description");
            foreach (var h in HardwarePresets.Presets)
                table.AddRow(h.Id, $"{h.ClockHz / 1e6:0} MHz", $"{h.PeX}x{h.PeY}", $"{h.CoresPerPe} x {h.LanesPerCore}", $"{h.PeakTops:0.0} TOPS",
                    Format.Bytes(h.ParamCacheBytes), $"{h.OffChipBytesPerSecond / 1e9:0.##} GB/s",
                    $"{PowerModel.FullUtilizationPowerW(h):0.00} W / {h.PowerBudgetW:0.##} W", h.CalibrationSource.Length > 0 ? "yes" : "no", Markup.Escape(h.Description));
            o.Console.Write(table);
            return ExitCodes.Ok;
        }));
        hardware.Add(list);

        var show = new Command("show", "Show every number of a preset or hardware file and where it comes from; --json or --save FILE give it as an editable hardware file.");
        var name = new Argument<string>("HARDWARE") { Description = "A preset name or a hardware JSON file.", DefaultValueFactory = _ => HardwarePresets.Default };
        var asJson = new Option<bool>("--json") { Description = "Print the description as a complete hardware file (nascluster-hardware, no base)." };
        var save = new Option<string?>("--save") { Description = "Write the description as a complete, editable hardware file to FILE (refuses to overwrite)." };
        show.Add(name);
        show.Add(asJson);
        show.Add(save);
        show.SetAction(p => CliApp.Guard(p, o =>
        {
            var h = HardwarePresets.Resolve(p.GetValue(name)!);
            if (p.GetValue(save) is { } file)
            {
                if (File.Exists(file)) throw new NasCluster.Shared.Util.NasInputException($"{file} exists; not overwritten");
                NasCluster.Shared.Util.AtomicFile.Write(file, HardwareFile.Write(h), "the hardware file");
                o.Out.WriteLine($"wrote {file}: {h.Id} as an editable hardware file; use it with --hardware {file}");
                return ExitCodes.Ok;
            }
            if (p.GetValue(asJson))
            {
                o.Out.Write(HardwareFile.Write(h));
                return ExitCodes.Ok;
            }
            var grid = new Grid().AddColumn().AddColumn();
            void Row(string k, string v) => grid.AddRow(Markup.Escape(k), Markup.Escape(v));
            Row("hardware", $"{h.Id}: {h.Description}");
            Row("clock", $"{h.ClockHz / 1e6:0.#} MHz");
            Row("array", $"{h.PeX}x{h.PeY} PEs x {h.CoresPerPe} cores x {h.LanesPerCore} lanes x {h.MacWaysPerLane} MAC ways = {h.PeakMacsPerCycle} MACs/cycle ({h.PeakTops:0.00} TOPS)");
            Row("activation paths", $"{h.ActBroadcastPerCoreCycle} broadcast / {h.DepthwiseVectorPerCoreCycle} depthwise activations per core per cycle");
            Row("memories", $"core {Format.Bytes(h.CoreMemBytes)}, PE {Format.Bytes(h.PeMemBytes)}, on-chip SRAM {Format.Bytes(h.ParamCacheBytes)} (≤ {h.MaxActivationShare:P0} reserved for activations)");
            Row("bandwidths", $"off-chip {h.OffChipBytesPerSecond / 1e9:0.##} GB/s, weight bus {h.WeightBroadcastBytesPerCycle} B/cycle, PE memory {h.PeMemBytesPerCycle} B/cycle, activation broadcast {h.ActivationBroadcastBytesPerCycle} B/cycle");
            Row("overheads", $"{h.LayerOverheadCycles} cycles per layer, {h.PassOverheadCycles} per lane pass");
            var e = h.Energy;
            Row("energy", $"{h.TechnologyNm} nm: MAC {e.MacPj:0.###} pJ, core mem {e.CoreMemReadPjPerByte:0.###} pJ/B, PE mem {e.PeMemReadPjPerByte:0.###} pJ/B, off-chip {e.OffChipPjPerByte:0.#} pJ/B, static {e.StaticFraction:P0} of peak");
            Row("power", $"{PowerModel.FullUtilizationPowerW(h):0.000} W on its densest work, {PowerModel.StaticPowerW(h):0.000} W of it static (budget {h.PowerBudgetW} W)");
            var host = h.Host;
            Row("host", $"{host.Link}: {host.LinkBytesPerSecond / 1e9:0.###} GB/s, {host.TransferLatencyUs:0.#} µs per transfer, {host.InvocationOverheadUs:0.#} µs per invocation, "
                        + (host.DeviceDram ? "off-chip traffic through its own DRAM path" : "no DRAM of its own: off-chip traffic crosses the host link"));
            Row("host CPU", $"{host.Cpu}: {host.CpuOpsPerSecond / 1e9:0.#} GOPS sustained, {host.CpuOpOverheadUs:0.#} µs per op");
            Row("CPU fallback", (h.CpuOps.Count == 0 ? "the accelerator runs every IR op" : $"the accelerator cannot run {string.Join(", ", h.CpuOps)}")
                                + $"; host ops always run on the CPU; partitioning: {HardwareFile.PartitioningName(h.Partitioning)}"
                                + (h.Partitioning == Partitioning.FirstUnsupported ? " (the first unsupported op and everything after it run on the CPU)" : " (every run of supported ops is an accelerator segment)"));
            Row("calibration", h.CalibrationSource.Length > 0
                ? $"latency = {h.CalibrationSlope:0.####} x simulated + {h.CalibrationInterceptMs:0.####} ms ({h.CalibrationSource})"
                : "none (latencies are raw simulated times)");
            Row("fingerprint", HardwareFingerprint.Of(h));
            o.Console.Write(grid);
            var sources = new Table().Border(TableBorder.Simple).AddColumns("field", "source");
            foreach (var (k, v) in h.Sources.OrderBy(kv => kv.Key)) sources.AddRow(Markup.Escape(k), Markup.Escape(v));
            o.Console.Write(sources);
            return ExitCodes.Ok;
        }));
        hardware.Add(show);

        var calibrate = new Command("calibrate", "Fit latency = slope x simulated + intercept to the published Pixel 6 latencies (edgetpu.md §3.1) and report the fit.");
        var hwOption = EstimateCommand.HardwareOption();
        var fidelity = EstimateCommand.FidelityOption();
        calibrate.Add(hwOption);
        calibrate.Add(fidelity);
        calibrate.SetAction(p => CliApp.Guard(p, o =>
        {
            var h = HardwarePresets.Resolve(p.GetValue(hwOption)!);
            var f = EstimateCommand.ParseFidelity(p.GetValue(fidelity)!);
            var fit = Calibration.Fit(h, Calibration.Pixel6, f);
            var stored = Calibration.Check(h, Calibration.Pixel6, f);
            var table = new Table().Border(TableBorder.Simple).AddColumns("model", "published ms", "simulated ms", "fitted ms", "stored map ms");
            for (var i = 0; i < fit.Rows.Count; i++)
                table.AddRow(fit.Rows[i].Point.Model, fit.Rows[i].Point.PublishedMs.ToString("0.00"), fit.Rows[i].SimulatedMs.ToString("0.000"),
                    fit.Rows[i].PredictedMs.ToString("0.000"), stored.Rows[i].PredictedMs.ToString("0.000"));
            o.Console.Write(table);
            o.Out.WriteLine($"fit:    latency = {fit.Slope:0.####} x simulated + {fit.InterceptMs:0.####} ms   Pearson {fit.Pearson:0.000}  Spearman {fit.Spearman:0.000}  MAPE {fit.Mape:P1}");
            o.Out.WriteLine($"stored: latency = {h.CalibrationSlope:0.####} x simulated + {h.CalibrationInterceptMs:0.####} ms   Spearman {stored.Spearman:0.000}  MAPE {stored.Mape:P1}");
            return ExitCodes.Ok;
        }));
        hardware.Add(calibrate);
        hardware.Add(Sensitivity());
        return hardware;
    }

    private static Command Sensitivity()
    {
        var command = new Command("sensitivity", "Vary every assumed or recalled figure of a preset (x(1-f) and x(1+f)) and report how the zoo's and a sampled space's "
                                                  + "latency rankings move (Kendall tau), whether the paper's block findings survive, and which figures the calibration cannot pin.");
        var name = new Argument<string>("HARDWARE") { Description = "A preset name or a hardware JSON file.", DefaultValueFactory = _ => HardwarePresets.Default };
        var factor = Options.Double("--factor", "Relative change of each figure, down and up (0.5: ±50%).", 0.5);
        var candidates = Options.Int("--candidates", "Candidates sampled from the classification space for its ranking.", 200);
        var seed = Options.Long("--seed", "Seed of the sampled candidates.", 1);
        var figures = new Option<string?>("--figures") { Description = "Only these figures, comma-separated hardware-file keys (e.g. act_broadcast_per_core_cycle,host.cpu_gops)." };
        var json = new Option<bool>("--json") { Description = "Print the analysis as JSON." };
        foreach (var o in new Option[] { factor, candidates, seed, figures, json }) command.Add(o);
        command.Add(name);
        command.SetAction(p => CliApp.Guard(p, o =>
        {
            var h = HardwarePresets.Resolve(p.GetValue(name)!);
            var only = p.GetValue(figures) is { } list ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
            var report = HardwareSensitivity.Run(h, p.GetValue(factor), p.GetValue(candidates), (ulong)p.GetValue(seed), only);
            if (p.GetValue(json)) SensitivityJson(o, report);
            else SensitivityHuman(o, report);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string Tau(double t) => double.IsNaN(t) ? "–" : t.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);

    private static string Findings(IReadOnlyList<Finding> findings) =>
        string.Join(" ", findings.Take(3).Select(f => (f.Holds ? "+" : "-") + f.Id));

    private static void SensitivityHuman(CliOutput o, SensitivityReport r)
    {
        var h = r.Hardware;
        o.Out.WriteLine($"Sensitivity of {h.Id}: each figure x{1 - r.Factor:0.##} and x{1 + r.Factor:0.##}, one at a time; Kendall tau against the unchanged preset over the zoo's "
                        + $"{NasCluster.Shared.Zoo.ModelZoo.Names.Count()} models and {r.Candidates} classification-space candidates (seed {r.Seed})"
                        + (h.CalibrationSource.Length > 0 ? "; every variation refitted to the Pixel 6 calibration points." : "."));
        o.Out.WriteLine($"Findings on {h.Id} as it is: {Findings(r.Findings)}   (+ holds, - differs: fused-late, min-group-size, fused-early)");
        var table = new Table().Border(TableBorder.Simple).AddColumns("figure", "src", "value", "varied", "tau zoo", "tau space", "tau energy", "findings");
        if (h.CalibrationSource.Length > 0) table.AddColumns("refit MAPE", "refit rho");
        foreach (var row in r.Rows)
        {
            var cells = new List<string>
            {
                row.Figure.Key, row.Source, Format.Num(row.Base, "0.####"), Format.Num(row.Value, "0.####"), Tau(row.ZooLatencyTau), Tau(row.SpaceLatencyTau), Tau(row.ZooEnergyTau),
                Findings(row.Findings) + (row.Unpriced > 0 ? $" ({row.Unpriced} unmappable)" : ""),
            };
            if (row.Refit is { } fit) cells.AddRange([fit.Mape.ToString("P1", System.Globalization.CultureInfo.InvariantCulture) + (row.RejectedByCalibration ? " (rejected)" : ""), fit.Spearman.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)]);
            else if (row.RefitFailure is not null) cells.AddRange(["rejected: a calibration model does not map", "–"]);
            table.AddRow(cells.Select(Markup.Escape).ToArray());
        }
        o.Console.Write(table);
        if (r.NotVaried.Count > 0)
            o.Out.WriteLine($"Not varied: {string.Join("; ", r.NotVaried.Select(n => $"{n.Figure.Key}: {n.Reason}"))}.");
        if (h.CalibrationSource.Length > 0)
            o.Out.WriteLine($"Not pinned by the calibration (every variation still fits within MAPE {HardwareSensitivity.MaxCalibrationMape:P0} and Spearman {HardwareSensitivity.MinCalibrationSpearman}): "
                            + string.Join(", ", r.Unpinned.Select(f => f.Key)));
    }

    private static void SensitivityJson(CliOutput o, SensitivityReport r) => o.Json(w =>
    {
        w.WriteStartObject();
        w.WriteString("hardware", r.Hardware.Id);
        w.WriteNumber("factor", r.Factor);
        w.WriteNumber("candidates", r.Candidates);
        w.WriteNumber("seed", r.Seed);
        WriteFindings(w, "findings", r.Findings);
        w.WriteStartArray("variations");
        foreach (var row in r.Rows)
        {
            w.WriteStartObject();
            w.WriteString("figure", row.Figure.Key);
            w.WriteString("source", row.Source);
            w.WriteNumber("base", row.Base);
            w.WriteNumber("value", row.Value);
            void Number(string key, double v)
            {
                if (double.IsNaN(v)) w.WriteNull(key);
                else w.WriteNumber(key, v);
            }
            Number("zoo_latency_tau", row.ZooLatencyTau);
            Number("space_latency_tau", row.SpaceLatencyTau);
            Number("zoo_energy_tau", row.ZooEnergyTau);
            w.WriteNumber("unmappable", row.Unpriced);
            WriteFindings(w, "findings", row.Findings);
            if (row.Refit is { } fit)
            {
                w.WriteStartObject("refit");
                w.WriteNumber("slope", fit.Slope);
                w.WriteNumber("intercept_ms", fit.InterceptMs);
                w.WriteNumber("mape", fit.Mape);
                w.WriteNumber("spearman", fit.Spearman);
                w.WriteBoolean("rejected", row.RejectedByCalibration);
                w.WriteEndObject();
            }
            else if (row.RefitFailure is { } failure)
            {
                w.WriteStartObject("refit");
                w.WriteBoolean("rejected", true);
                w.WriteString("failure", failure);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("not_varied");
        foreach (var n in r.NotVaried)
        {
            w.WriteStartObject();
            w.WriteString("figure", n.Figure.Key);
            w.WriteString("reason", n.Reason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("not_pinned_by_calibration");
        foreach (var f in r.Unpinned) w.WriteStringValue(f.Key);
        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static void WriteFindings(System.Text.Json.Utf8JsonWriter w, string key, IReadOnlyList<Finding> findings)
    {
        w.WriteStartObject(key);
        foreach (var f in findings) w.WriteBoolean(f.Id, f.Holds);
        w.WriteEndObject();
    }
}
