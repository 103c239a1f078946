using System.Collections.Immutable;
using NasCluster.Shared.Util;

namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>
/// Named, versioned accelerator descriptions. Source tags follow edgetpu.md: [V] primary source,
/// [S] secondary, [R] recalled (unverified), [C] computed, [A] assumption or calibration knob.
/// <c>pixel6</c> is the default and the only calibrated preset (against edgetpu.md §3.1, nothing else).
/// </summary>
public static class HardwarePresets
{
    public const string Default = "pixel6";

    private static readonly ImmutableDictionary<string, string> CommonSources = new Dictionary<string, string>
    {
        ["MacWaysPerLane"] = "[A] 1: with 4096 MACs/cycle at 1.066 GHz the chip is 8.7 TOPS, consistent with the Pixel 6 latencies (edgetpu.md §6.1)",
        ["ActBroadcastPerCoreCycle"] = "[A, first principle] one activation per MAC way per core-cycle: a weight-stationary SIMD core broadcasts each activation to all its lanes, which is the data reuse of a full conv; lanes that need other activations (a narrow group, a narrow conv's other pixels) wait for their own broadcast, so a group conv fills the lanes only with at least as many output filters per group as lanes (FuSeConv's systolic-array argument, edgetpu.md §5.2). Not tuned; the calibration cannot pin it (hardware sensitivity)",
        ["DepthwiseVectorPerCoreCycle"] = "[A, first principle] no depthwise vector path: a depthwise conv runs on the broadcast path, one channel per broadcast, so it uses 1 of the 64 lanes (FuSeConv: one column of a systolic array, edgetpu.md §5.2). Not tuned; the calibration cannot pin it (hardware sensitivity)",
        ["WeightBroadcastBytesPerCycle"] = "[A] 256 B/cycle weight broadcast bus (edgetpu.md §6.1)",
        ["PeMemBytesPerCycle"] = "[A] 64 B/cycle per PE memory (one SIMD vector of int8 per cycle)",
        ["ActivationBroadcastBytesPerCycle"] = "[A] 64 B/cycle activation broadcast to all PEs for the channel-split mapping",
        ["LayerOverheadCycles"] = "[A] 200 cycles per layer: sync, descriptor issue, pipeline fill (edgetpu.md §6.7)",
        ["PassOverheadCycles"] = "[A] 16 cycles per lane pass: accumulator drain (edgetpu.md §6.7)",
        ["MaxActivationShare"] = "[A] the compiler reserves up to half of the SRAM for activations; Coral logs show the parameter cache shrinking with large activations [S] (edgetpu.md §1.2)",
        ["Energy"] = "[S] Horowitz 45 nm energies (edgetpu.md §5.1) scaled by the technology node [A]; static power 10% of peak dynamic [A] (edgetpu.md §6.5)",
    }.ToImmutableDictionary();

    private static HardwareConfig Pixel6()
    {
        const long core = 32 * 1024, pe = 384 * 1024;
        return new HardwareConfig
        {
            Name = "pixel6",
            Version = 2,
            Description = "Google Tensor G1 (Pixel 6) Edge TPU, V2-class template; calibrated to the published Pixel 6 latencies",
            ClockHz = 1.066e9, PeX = 4, PeY = 4, CoresPerPe = 4, LanesPerCore = 64, MacWaysPerLane = 1,
            ActBroadcastPerCoreCycle = 1, DepthwiseVectorPerCoreCycle = 1,
            CoreMemBytes = core, PeMemBytes = pe, ParamCacheBytes = 16 * pe + 64 * core,
            OffChipBytesPerSecond = 32e9, WeightBroadcastBytesPerCycle = 256, PeMemBytesPerCycle = 64,
            ActivationBroadcastBytesPerCycle = 64, LayerOverheadCycles = 200, PassOverheadCycles = 16,
            TechnologyNm = 5, Energy = EnergyTable.ForTechnology(5, core, pe, offChipPjPerByte: 40),
            Host = OnSoc(32e9),
            PowerBudgetW = 1.0,
            CalibrationSlope = Pixel6Calibration.Slope, CalibrationInterceptMs = Pixel6Calibration.InterceptMs,
            CalibrationSource = "least-squares fit to the Pixel 6 latencies of MobileNetEdgeTPUv2 Tiny/XS/S/M/L and MobileNetEdgeTPU dm1.0 (edgetpu.md §3.1)",
            Sources = CommonSources.SetItems(new Dictionary<string, string>
            {
                ["ClockHz"] = "[V] 1066 MHz nominal TPU state of the Tensor G1 kernel driver (abrolhos-pwr.h; edgetpu.md §1.3)",
                ["PeX,PeY"] = "[V] EDGETPU_NTILES 16 (edgetpu-internal.h), 4×4 as V1/V2 [S] (edgetpu.md §1.1, §1.3)",
                ["CoresPerPe,LanesPerCore"] = "[R] V2 class: 4 cores per PE, 64 lanes per core (edgetpu.md §1.1 Table 1)",
                ["CoreMemBytes,PeMemBytes"] = "[R] V2 class: 32 KiB core memory, 384 KiB PE memory (edgetpu.md §1.1)",
                ["ParamCacheBytes"] = "[C] 16 × 384 KiB + 64 × 32 KiB = 8 MiB, matching Coral's ~8 MiB parameter cache [V] (edgetpu.md §6.1)",
                ["OffChipBytesPerSecond"] = "[R] ~32 GB/s V2-class I/O (edgetpu.md §1.1)",
                ["TechnologyNm"] = "[A] Tensor G1 is a 5 nm-class SoC",
                ["OffChip energy"] = "[R] LPDDR ~40 pJ/B (edgetpu.md §6.5)",
                ["PowerBudgetW"] = "[A] a Pixel-class TPU block: a few hundred mW to ~1 W (edgetpu.md §6.5); the driver's 165 mW thermal figure is not peak power [V]",
                ["Host"] = OnSocSource + "; the fixed cost per invocation is the calibration's intercept [C], nothing is added to it",
                ["CpuOps,Partitioning"] = "[A] none: Akin et al. ran classification, segmentation, detection and MobileBERT-EdgeTPU on this TPU; an op the IR knows only by name (an imported model's) runs on the CPU, each run of supported ops is its own accelerator segment (a TFLite delegate's partitioning), and each segment pays the per-invocation cost",
            }),
        };
    }

    private static HardwareConfig EdgeTpuV1()
    {
        const long core = 32 * 1024, pe = 2 * 1024 * 1024;
        return Pixel6() with
        {
            Name = "edgetpu-v1",
            Version = 2,
            Description = "Edge TPU class V1 of Seshadri et al. 2022 (uncalibrated)",
            ClockHz = 0.8e9,
            CoreMemBytes = core,
            PeMemBytes = pe,
            ParamCacheBytes = 16 * pe + 64 * core,
            OffChipBytesPerSecond = 17e9,
            Host = OnSoc(17e9),
            TechnologyNm = 7,
            Energy = EnergyTable.ForTechnology(7, core, pe, offChipPjPerByte: 40),
            PowerBudgetW = 2.0,
            CalibrationSlope = 1,
            CalibrationInterceptMs = 0,
            CalibrationSource = "",
            Sources = CommonSources.SetItems(new Dictionary<string, string>
            {
                ["ClockHz,PeX,PeY"] = "[S] 800 MHz, 4×4 PEs (edgetpu.md §1.1)",
                ["CoresPerPe,LanesPerCore,CoreMemBytes,PeMemBytes,OffChipBytesPerSecond"] = "[R] 4 cores, 64 lanes, 32 KiB, 2 MiB, ~17 GB/s (edgetpu.md §1.1 Table 1)",
                ["ParamCacheBytes"] = "[C] 16 PE memories + 64 core memories",
                ["TechnologyNm,PowerBudgetW"] = "[A] 7 nm, 2 W",
                ["Host"] = TemplateHostSource,
            }),
        };
    }

    private static HardwareConfig EdgeTpuV2() => Pixel6() with
    {
        Name = "edgetpu-v2",
        Version = 2,
        Description = "Edge TPU class V2 of Seshadri et al. 2022 (the Pixel 6 template, uncalibrated)",
        CalibrationSlope = 1,
        CalibrationInterceptMs = 0,
        CalibrationSource = "",
        PowerBudgetW = 2.0,
        TechnologyNm = 7,
        Energy = EnergyTable.ForTechnology(7, 32 * 1024, 384 * 1024, offChipPjPerByte: 40),
        Sources = CommonSources.SetItems(new Dictionary<string, string>
        {
            ["ClockHz,PeX,PeY"] = "[S] 1066 MHz, 4×4 PEs (edgetpu.md §1.1)",
            ["CoresPerPe,LanesPerCore,CoreMemBytes,PeMemBytes,OffChipBytesPerSecond"] = "[R] 4 cores, 64 lanes, 32 KiB, 384 KiB, ~32 GB/s (edgetpu.md §1.1 Table 1)",
            ["ParamCacheBytes"] = "[C] 16 × 384 KiB + 64 × 32 KiB = 8 MiB (edgetpu.md §6.1)",
            ["TechnologyNm,PowerBudgetW"] = "[A] 7 nm, 2 W",
            ["Host"] = TemplateHostSource,
        }),
    };

    private static HardwareConfig EdgeTpuV3()
    {
        const long core = 8 * 1024, pe = 1024 * 1024;
        return Pixel6() with
        {
            Name = "edgetpu-v3",
            Version = 2,
            Description = "Edge TPU class V3 of Seshadri et al. 2022: 4×1 PEs, 8 cores of 32 lanes (uncalibrated)",
            PeX = 4,
            PeY = 1,
            CoresPerPe = 8,
            LanesPerCore = 32,
            CoreMemBytes = core,
            PeMemBytes = pe,
            ParamCacheBytes = 4 * pe + 32 * core,
            TechnologyNm = 7,
            Energy = EnergyTable.ForTechnology(7, core, pe, offChipPjPerByte: 40),
            PowerBudgetW = 1.0,
            CalibrationSlope = 1,
            CalibrationInterceptMs = 0,
            CalibrationSource = "",
            Sources = CommonSources.SetItems(new Dictionary<string, string>
            {
                ["ClockHz,PeX,PeY"] = "[S] 1066 MHz, 4×1 PEs (edgetpu.md §1.1)",
                ["CoresPerPe,LanesPerCore,CoreMemBytes,PeMemBytes,OffChipBytesPerSecond"] = "[R] 8 cores, 32 lanes, 8 KiB, 1 MiB, ~32 GB/s (edgetpu.md §1.1 Table 1)",
                ["ParamCacheBytes"] = "[C] 4 PE memories + 32 core memories",
                ["TechnologyNm,PowerBudgetW"] = "[A] 7 nm, 1 W",
                ["Host"] = TemplateHostSource,
            }),
        };
    }

    private const string OnSocSource =
        "[A] on-SoC: the TPU reads its input from and writes its output to the LPDDR it shares with the CPU, at the off-chip bandwidth, with no link latency; "
        + "fallback ops run on one Cortex-X1-class big core [S: Tensor G1 has two Cortex-X1]: 4 × 128-bit NEON pipes with SDOT ≈ 64 int8 MACs/cycle at 2.8 GHz ≈ 358 GOPS peak, "
        + "of which ~15% is reached on single ops (60 GOPS) [A], 5 µs per op [A]";

    private const string TemplateHostSource =
        OnSocSource + "; no runtime cost per invocation: uncalibrated, there is no measured intercept to stand for it [A]";

    /// <summary>An Edge TPU inside a phone SoC: input, output and off-chip traffic go through the shared LPDDR.</summary>
    private static HostInterface OnSoc(double dramBytesPerSecond) => new()
    {
        Link = "on-SoC shared LPDDR", LinkBytesPerSecond = dramBytesPerSecond, InvocationOverheadUs = 0, TransferLatencyUs = 0, DeviceDram = true,
        Cpu = "one Cortex-X1-class core", CpuOpsPerSecond = 60e9, CpuOpOverheadUs = 5,
    };

    private static HardwareConfig Coral(string name, HostInterface host, string hostSource)
    {
        const long core = 32 * 1024, pe = 384 * 1024;
        return Pixel6() with
        {
            Name = name,
            Version = 2,
            Description = $"Coral Edge TPU ({host.Link}): 4 TOPS, 2 W, ~8 MiB parameter cache, no DRAM of its own: input, output, uncached parameters and spilled activations cross the host link (uncalibrated)",
            ClockHz = 0.5e9,
            ParamCacheBytes = 8 * 1024 * 1024,
            OffChipBytesPerSecond = host.LinkBytesPerSecond,
            Host = host,
            CpuOps = ["embedding", "layer_norm", "matmul", "softmax"],
            Partitioning = Partitioning.FirstUnsupported,
            MaxActivationShare = 1.0,
            TechnologyNm = 28,
            Energy = EnergyTable.ForTechnology(28, core, pe, offChipPjPerByte: 87.5),
            PowerBudgetW = 2.0,
            CalibrationSlope = 1,
            CalibrationInterceptMs = 0,
            CalibrationSource = "",
            Sources = CommonSources.SetItems(new Dictionary<string, string>
            {
                ["ClockHz"] = "[A] ~500 MHz: 4096 MACs/cycle give the datasheet's 4 TOPS [V] (edgetpu.md §1.2)",
                ["ParamCacheBytes"] = "[V] ~8 MiB on-chip parameter cache (Edge TPU compiler logs, google-coral/edgetpu#663; edgetpu.md §1.2)",
                ["OffChipBytesPerSecond"] = "= the host link's bandwidth: uncached parameters are re-streamed from the host on every inference [S] (edgetpu.md §1.2)",
                ["Host"] = hostSource,
                ["CpuOps"] = "[R] the Edge TPU's supported-op table (coral.ai/docs/edgetpu/models-intro) has no Gather (embedding) and no BatchMatMul of two activations, a Softmax of 1-D tensors only (not the per-position softmax of attention), and no layer-norm op; recalled, not verified here",
                ["MaxActivationShare"] = "[S] activations may take the whole SRAM: without DRAM a spilled activation crosses the host link twice while a parameter that no longer fits streams once, and Coral compiler logs show the parameter cache shrinking to 1.73 MiB for a 1920×1058 input (edgetpu.md §1.2)",
                ["Partitioning"] = "[V] the Edge TPU compiler \"cannot partition the model more than once\": the first unsupported op and every op after it run on the CPU (Axis ARTPEC-7 optimisation tips; compiler logs \"More than one subgraph is not supported\")",
                ["PowerBudgetW"] = "[V] 2 W (Coral datasheet; edgetpu.md §1.2)",
                ["TechnologyNm,OffChip energy"] = "[A] 28 nm; 87.5 pJ/B off-chip (ZigZag DRAM, edgetpu.md §5.1)",
                ["PeX,PeY,CoresPerPe,LanesPerCore,memories"] = "[A] the V2-class template (no public source for Coral's array)",
            }),
        };
    }

    private const string CoralHostCpu = "a Cortex-A72-class host core";

    private const string CoralHostCpuSource =
        "fallback ops on one Cortex-A72-class host core (a Raspberry Pi 4-class host): 2 × 128-bit NEON pipes, no SDOT ≈ 16 int8 MACs/cycle at 1.5 GHz ≈ 48 GOPS peak, ~20% reached (10 GOPS), 10 µs per op [A]";

    private static readonly ImmutableDictionary<string, HardwareConfig> All = new[]
    {
        Pixel6(), EdgeTpuV1(), EdgeTpuV2(), EdgeTpuV3(),
        Coral("coral-pcie", new HostInterface
        {
            Link = "PCIe Gen2 ×1", LinkBytesPerSecond = 0.45e9, InvocationOverheadUs = 100, TransferLatencyUs = 10, DeviceDram = false,
            Cpu = CoralHostCpu, CpuOpsPerSecond = 10e9, CpuOpOverheadUs = 10,
        }, "PCIe Gen2 ×1: 5 GT/s with 8b/10b coding = 500 MB/s per direction [V: PCI Express Base Specification 2.0], 90% of it after packet overhead [A]; "
           + "10 µs per transfer (descriptor, DMA start, MSI completion interrupt) [A]; 100 µs per invocation (TFLite interpreter and Edge TPU delegate, driver ioctl) [A]; " + CoralHostCpuSource),
        Coral("coral-usb3", new HostInterface
        {
            Link = "USB 3.0", LinkBytesPerSecond = 0.4e9, InvocationOverheadUs = 225, TransferLatencyUs = 125, DeviceDram = false,
            Cpu = CoralHostCpu, CpuOpsPerSecond = 10e9, CpuOpOverheadUs = 10,
        }, "USB 3.0 SuperSpeed: 5 Gb/s with 8b/10b coding = 500 MB/s [V: USB 3.0 specification], 80% of it for bulk transfers [A]; "
           + "125 µs per transfer: one bus interval (125 µs [V: USB 3.0 specification]) before the host sees a completion [A]; "
           + "225 µs per invocation: the runtime's 100 µs as on PCIe [A] plus the command transfer [A]; " + CoralHostCpuSource),
    }.Select(WithinBudget).ToImmutableDictionary(h => h.Name);

    public static IEnumerable<string> Names => ["pixel6", "edgetpu-v1", "edgetpu-v2", "edgetpu-v3", "coral-pcie", "coral-usb3"];

    /// <summary>
    /// The energy scale of a preset, as edgetpu.md §6.5 prescribes: energies come from the technology node, and
    /// where that estimate would let the densest dense conv draw more than the chip's power budget at its
    /// calibrated rate, the on-chip energies are scaled down until it draws exactly the budget.
    /// </summary>
    private static HardwareConfig WithinBudget(HardwareConfig h)
    {
        var full = Cost.PowerModel.FullUtilizationPowerW(h);
        if (full <= h.PowerBudgetW) return h;
        var scale = h.PowerBudgetW / full;
        return h with
        {
            Energy = h.Energy.OnChipScaled(scale),
            Sources = h.Sources.SetItem("EnergyScale",
                $"[A] on-chip energies ×{scale:0.###}: the node's estimate would draw {full:0.###} W on the densest dense conv at the calibrated rate, over the {h.PowerBudgetW} W budget (edgetpu.md §6.5)"),
        };
    }

    public static IEnumerable<HardwareConfig> Presets => Names.Select(n => All[n]);

    public static bool Contains(string name) => All.ContainsKey(name);

    /// <exception cref="NasInputException">Unknown preset.</exception>
    public static HardwareConfig Get(string name) =>
        All.TryGetValue(name, out var h) ? h
        : throw new NasInputException($"unknown hardware preset '{name}' (presets: {string.Join(", ", Names)}; or give a hardware JSON file)");

    /// <summary>A preset name, or a hardware JSON file (see <see cref="HardwareFile"/>).</summary>
    public static HardwareConfig Resolve(string nameOrFile) =>
        All.TryGetValue(nameOrFile, out var h) ? h
        : File.Exists(nameOrFile) || nameOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? HardwareFile.Load(nameOrFile)
        : Get(nameOrFile);
}

/// <summary>The pixel6 preset's fitted linear map (see <c>Calibration</c>); refit with `nascluster hardware calibrate`.</summary>
internal static class Pixel6Calibration
{
    public const double Slope = 1.2099;
    public const double InterceptMs = 0.3606;
}
