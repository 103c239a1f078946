using System.Collections.Immutable;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>
/// Custom hardware as a JSON file (format <c>nascluster-hardware</c>, version 1). With <c>"base"</c> a
/// preset supplies every field not given; without it all fields are required. Energies are derived
/// from the technology node, memory sizes and off-chip energy exactly as for the presets.
/// </summary>
public static class HardwareFile
{
    public const string Format = "nascluster-hardware";

    private static readonly string[] Keys =
    [
        "format", "version", "name", "base", "description", "clock_mhz", "pe_x", "pe_y", "cores_per_pe", "lanes_per_core",
        "mac_ways_per_lane", "act_broadcast_per_core_cycle", "depthwise_vector_per_core_cycle", "core_mem_kib", "pe_mem_kib",
        "param_cache_kib", "max_activation_share", "off_chip_gb_per_s", "weight_broadcast_bytes_per_cycle",
        "pe_mem_bytes_per_cycle", "activation_broadcast_bytes_per_cycle", "layer_overhead_cycles", "pass_overhead_cycles",
        "technology_nm", "energy_scale", "off_chip_pj_per_byte", "static_fraction", "power_budget_w", "calibration", "host", "cpu_ops", "partitioning",
    ];

    private static readonly string[] HostKeys =
        ["link", "link_gb_per_s", "invocation_overhead_us", "transfer_latency_us", "device_dram", "cpu", "cpu_gops", "cpu_op_overhead_us"];

    public static HardwareConfig Load(string path) => Parse(JsonNode.Load(path));

    /// <summary>
    /// The host side: every key optional, taken from the base preset, or without one an accelerator inside an
    /// SoC (input and output through shared DRAM at the off-chip bandwidth, no fixed cost per invocation).
    /// </summary>
    private static HostInterface ParseHost(JsonNode root, HostInterface? b, double offChipBytesPerSecond)
    {
        b ??= new HostInterface
        {
            Link = "on-SoC shared DRAM", LinkBytesPerSecond = offChipBytesPerSecond, InvocationOverheadUs = 0, TransferLatencyUs = 0, DeviceDram = true,
            Cpu = "a host CPU core", CpuOpsPerSecond = 10e9, CpuOpOverheadUs = 10,
        };
        if (!root.TryProp("host", out var n)) return b;
        n.ExpectObject();
        n.AllowOnly(HostKeys);
        double Num(string key, double min, double max, double fallback)
        {
            if (!n.TryProp(key, out var v)) return fallback;
            var x = v.AsDouble();
            return x < min || x > max ? throw v.Error($"host.{key} must be between {min} and {max} (got {x})") : x;
        }
        return new HostInterface
        {
            Link = n.TryProp("link", out var l) ? l.AsString() : b.Link,
            LinkBytesPerSecond = Num("link_gb_per_s", 1e-4, 10_000, b.LinkBytesPerSecond / 1e9) * 1e9,
            InvocationOverheadUs = Num("invocation_overhead_us", 0, 1e7, b.InvocationOverheadUs),
            TransferLatencyUs = Num("transfer_latency_us", 0, 1e7, b.TransferLatencyUs),
            DeviceDram = n.TryProp("device_dram", out var d) ? d.AsBool() : b.DeviceDram,
            Cpu = n.TryProp("cpu", out var c) ? c.AsString() : b.Cpu,
            CpuOpsPerSecond = Num("cpu_gops", 1e-3, 1e6, b.CpuOpsPerSecond / 1e9) * 1e9,
            CpuOpOverheadUs = Num("cpu_op_overhead_us", 0, 1e7, b.CpuOpOverheadUs),
        };
    }

    /// <summary>
    /// A hardware description as an editable, complete file (no base): what <c>hardware show NAME --save FILE</c>
    /// writes. <see cref="Parse(string, string?)"/> of the result prices exactly as <paramref name="h"/>; a preset gets the name
    /// <c>NAME-custom</c>, since preset names are reserved.
    /// </summary>
    public static string Write(HardwareConfig h)
    {
        var name = HardwarePresets.Contains(h.Name) ? h.Name + "-custom" : h.Name;
        using var stream = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(stream, new System.Text.Json.JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("version", 1);
            w.WriteString("name", name);
            w.WriteString("description", HardwarePresets.Contains(h.Name) ? $"a copy of preset {h.Id}: {h.Description}" : h.Description);
            w.WriteNumber("clock_mhz", h.ClockHz / 1e6);
            w.WriteNumber("pe_x", h.PeX);
            w.WriteNumber("pe_y", h.PeY);
            w.WriteNumber("cores_per_pe", h.CoresPerPe);
            w.WriteNumber("lanes_per_core", h.LanesPerCore);
            w.WriteNumber("mac_ways_per_lane", h.MacWaysPerLane);
            w.WriteNumber("act_broadcast_per_core_cycle", h.ActBroadcastPerCoreCycle);
            w.WriteNumber("depthwise_vector_per_core_cycle", h.DepthwiseVectorPerCoreCycle);
            w.WriteNumber("core_mem_kib", h.CoreMemBytes / 1024.0);
            w.WriteNumber("pe_mem_kib", h.PeMemBytes / 1024.0);
            w.WriteNumber("param_cache_kib", h.ParamCacheBytes / 1024.0);
            w.WriteNumber("max_activation_share", h.MaxActivationShare);
            w.WriteNumber("off_chip_gb_per_s", h.OffChipBytesPerSecond / 1e9);
            w.WriteNumber("weight_broadcast_bytes_per_cycle", h.WeightBroadcastBytesPerCycle);
            w.WriteNumber("pe_mem_bytes_per_cycle", h.PeMemBytesPerCycle);
            w.WriteNumber("activation_broadcast_bytes_per_cycle", h.ActivationBroadcastBytesPerCycle);
            w.WriteNumber("layer_overhead_cycles", h.LayerOverheadCycles);
            w.WriteNumber("pass_overhead_cycles", h.PassOverheadCycles);
            w.WriteNumber("technology_nm", h.TechnologyNm);
            if (h.Energy.OnChipScale != 1) w.WriteNumber("energy_scale", h.Energy.OnChipScale);
            w.WriteNumber("off_chip_pj_per_byte", h.Energy.OffChipPjPerByte);
            w.WriteNumber("static_fraction", h.Energy.StaticFraction);
            w.WriteNumber("power_budget_w", h.PowerBudgetW);
            if (h.CalibrationSlope != 1 || h.CalibrationInterceptMs != 0)
            {
                w.WriteStartObject("calibration");
                w.WriteNumber("slope", h.CalibrationSlope);
                w.WriteNumber("intercept_ms", h.CalibrationInterceptMs);
                w.WriteEndObject();
            }
            w.WriteStartArray("cpu_ops");
            foreach (var op in h.CpuOps) w.WriteStringValue(op);
            w.WriteEndArray();
            w.WriteString("partitioning", PartitioningName(h.Partitioning));
            var host = h.Host;
            w.WriteStartObject("host");
            w.WriteString("link", host.Link);
            w.WriteNumber("link_gb_per_s", host.LinkBytesPerSecond / 1e9);
            w.WriteNumber("invocation_overhead_us", host.InvocationOverheadUs);
            w.WriteNumber("transfer_latency_us", host.TransferLatencyUs);
            w.WriteBoolean("device_dram", host.DeviceDram);
            w.WriteString("cpu", host.Cpu);
            w.WriteNumber("cpu_gops", host.CpuOpsPerSecond / 1e9);
            w.WriteNumber("cpu_op_overhead_us", host.CpuOpOverheadUs);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public static string PartitioningName(Partitioning p) => p == Partitioning.Segments ? "segments" : "first-unsupported";

    public static HardwareConfig Parse(string text, string? file = null) => Parse(JsonNode.Parse(text, file));

    public static HardwareConfig Parse(JsonNode root)
    {
        root.AllowOnly(Keys);
        var format = root.Prop("format");
        if (format.AsString() != Format) throw format.Error($"expected \"{Format}\" (is this a hardware file?)");
        var version = root.Prop("version");
        if (version.AsInt() != 1) throw version.Error($"unsupported version {version.AsInt()} (this build reads version 1)");
        var name = root.Prop("name").AsString();
        if (string.IsNullOrWhiteSpace(name) || name.Contains('@')) throw root.Prop("name").Error("a hardware name must be non-empty without '@'");
        if (HardwarePresets.Contains(name)) throw root.Prop("name").Error($"'{name}' is a preset name; choose another name for custom hardware");
        HardwareConfig? b = null;
        if (root.TryProp("base", out var baseNode))
        {
            var baseName = baseNode.AsString();
            b = HardwarePresets.Contains(baseName) ? HardwarePresets.Get(baseName)
                : throw baseNode.Error($"unknown base preset '{baseName}' (presets: {string.Join(", ", HardwarePresets.Names)})");
        }

        if (b is null)
        {
            var missing = Keys.Except(["format", "version", "name", "base", "description", "max_activation_share", "calibration", "host", "energy_scale", "cpu_ops", "partitioning"])
                .Where(k => !root.Has(k)).ToList();
            if (missing.Count > 0)
                throw root.Error($"missing required key{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} (or give a \"base\" preset to take them from)");
        }

        double Num(string key, double min, double max, double? fallback)
        {
            if (root.TryProp(key, out var n))
            {
                var v = n.AsDouble();
                if (v < min || v > max) throw n.Error($"{key} must be between {min} and {max} (got {v})");
                return v;
            }
            return fallback ?? throw root.Error($"missing required key \"{key}\" (or give a \"base\" preset)");
        }
        int Int(string key, int min, int max, int? fallback)
        {
            if (root.TryProp(key, out var n))
            {
                var v = n.AsInt();
                if (v < min || v > max) throw n.Error($"{key} must be between {min} and {max} (got {v})");
                return v;
            }
            return fallback ?? throw root.Error($"missing required key \"{key}\" (or give a \"base\" preset)");
        }

        var coreMem = (long)(Num("core_mem_kib", 1, 1 << 20, b?.CoreMemBytes / 1024.0) * 1024);
        var peMem = (long)(Num("pe_mem_kib", 16, 1 << 22, b?.PeMemBytes / 1024.0) * 1024);
        var tech = Num("technology_nm", 2, 180, b?.TechnologyNm);
        var offChipPj = Num("off_chip_pj_per_byte", 0, 10_000, b?.Energy.OffChipPjPerByte);
        var staticFraction = Num("static_fraction", 0, 1, b?.Energy.StaticFraction);
        var energyScale = Num("energy_scale", 1e-3, 1e3, b?.Energy.OnChipScale ?? 1);
        double slope = 1, intercept = 0;
        if (root.TryProp("calibration", out var cal))
        {
            cal.AllowOnly("slope", "intercept_ms");
            slope = cal.Prop("slope").AsDouble();
            intercept = cal.TryProp("intercept_ms", out var i) ? i.AsDouble() : 0;
            if (slope <= 0) throw cal.Prop("slope").Error("the calibration slope must be positive");
        }
        var offChip = Num("off_chip_gb_per_s", 1e-4, 10_000, b?.OffChipBytesPerSecond / 1e9) * 1e9;
        var host = ParseHost(root, b?.Host, offChip);
        if (!host.DeviceDram)
        {
            // Without DRAM of its own, off-chip traffic is host-link traffic: one bandwidth, not two.
            if (root.TryProp("off_chip_gb_per_s", out var given) && Math.Abs(given.AsDouble() * 1e9 - host.LinkBytesPerSecond) > 1e-6 * host.LinkBytesPerSecond)
                throw given.Error($"without device DRAM (host.device_dram false) off-chip traffic crosses the host link: off_chip_gb_per_s ({given.AsDouble()}) must equal host.link_gb_per_s ({host.LinkBytesPerSecond / 1e9})");
            offChip = host.LinkBytesPerSecond;
        }
        var cpuOps = b?.CpuOps ?? [];
        if (root.TryProp("cpu_ops", out var opsNode))
        {
            var names = opsNode.Items();
            foreach (var o in names)
                if (!OpNames.All.Contains(o.AsString()) || o.AsString() is "input" or "host_op")
                    throw o.Error($"unknown op \"{o.AsString()}\" (ops the accelerator may lack: {string.Join(", ", OpNames.All.Where(n => n is not ("input" or "host_op")))})");
            cpuOps = [.. names.Select(o => o.AsString())];
        }
        var partitioning = b?.Partitioning ?? Partitioning.Segments;
        if (root.TryProp("partitioning", out var partNode))
            partitioning = partNode.AsString() switch
            {
                "segments" => Partitioning.Segments,
                "first-unsupported" => Partitioning.FirstUnsupported,
                var other => throw partNode.Error($"expected \"segments\" or \"first-unsupported\", got \"{other}\""),
            };
        var h = new HardwareConfig
        {
            Name = name,
            Version = 1,
            Description = root.TryProp("description", out var d) ? d.AsString() : $"custom hardware{(b is null ? "" : $" based on {b.Name}")} ({root.File})",
            ClockHz = Num("clock_mhz", 1, 100_000, b?.ClockHz / 1e6) * 1e6,
            PeX = Int("pe_x", 1, 256, b?.PeX),
            PeY = Int("pe_y", 1, 256, b?.PeY),
            CoresPerPe = Int("cores_per_pe", 1, 256, b?.CoresPerPe),
            LanesPerCore = Int("lanes_per_core", 1, 4096, b?.LanesPerCore),
            MacWaysPerLane = Int("mac_ways_per_lane", 1, 256, b?.MacWaysPerLane),
            ActBroadcastPerCoreCycle = Num("act_broadcast_per_core_cycle", 0.01, 4096, b?.ActBroadcastPerCoreCycle),
            DepthwiseVectorPerCoreCycle = Num("depthwise_vector_per_core_cycle", 0.01, 4096, b?.DepthwiseVectorPerCoreCycle),
            CoreMemBytes = coreMem,
            PeMemBytes = peMem,
            ParamCacheBytes = (long)(Num("param_cache_kib", 0, 1 << 24, b?.ParamCacheBytes / 1024.0) * 1024),
            MaxActivationShare = Num("max_activation_share", 0.01, 1, b?.MaxActivationShare ?? 0.5),
            OffChipBytesPerSecond = offChip,
            Host = host,
            CpuOps = cpuOps,
            Partitioning = partitioning,
            WeightBroadcastBytesPerCycle = Int("weight_broadcast_bytes_per_cycle", 1, 1 << 16, b?.WeightBroadcastBytesPerCycle),
            PeMemBytesPerCycle = Int("pe_mem_bytes_per_cycle", 1, 1 << 16, b?.PeMemBytesPerCycle),
            ActivationBroadcastBytesPerCycle = Int("activation_broadcast_bytes_per_cycle", 1, 1 << 16, b?.ActivationBroadcastBytesPerCycle),
            LayerOverheadCycles = Int("layer_overhead_cycles", 0, 1 << 24, b?.LayerOverheadCycles),
            PassOverheadCycles = Int("pass_overhead_cycles", 0, 1 << 20, b?.PassOverheadCycles),
            TechnologyNm = tech,
            Energy = EnergyTable.ForTechnology(tech, coreMem, peMem, offChipPj, staticFraction).OnChipScaled(energyScale),
            PowerBudgetW = Num("power_budget_w", 0.001, 10_000, b?.PowerBudgetW),
            CalibrationSlope = slope,
            CalibrationInterceptMs = intercept,
            CalibrationSource = root.Has("calibration") ? $"given in {root.File}" : "",
            Sources = ImmutableDictionary<string, string>.Empty.Add("*", $"custom file {root.File}" + (b is null ? "" : $"; unset fields from {b.Id}")),
        };
        if (h.ParamCacheBytes < h.PeMemBytes)
            throw root.Error($"the on-chip SRAM (param_cache_kib = {h.ParamCacheBytes / 1024}) must be at least one PE memory ({h.PeMemBytes / 1024} KiB)");
        return h;
    }
}
