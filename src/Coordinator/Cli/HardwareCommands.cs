using System.CommandLine;
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
        return hardware;
    }
}
