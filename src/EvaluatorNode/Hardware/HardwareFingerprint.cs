using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>
/// A hash of every number of a hardware description. Cost caches key on it rather than on the name, so
/// a modified copy of a preset (a custom file with a base, or a `with` copy in a sweep) never receives
/// costs computed for the original. Memoised per instance outside the record: a `with` copy must not
/// inherit the original's fingerprint.
/// </summary>
public static class HardwareFingerprint
{
    private static readonly ConditionalWeakTable<HardwareConfig, string> Memo = new();

    public static string Of(HardwareConfig h) => Memo.GetValue(h, Compute);

    /// <summary>Every number the fingerprint covers, named (what `resume` lists when hardware changed).</summary>
    public static IReadOnlyList<(string Name, string Value)> Fields(HardwareConfig h)
    {
        var e = h.Energy;
        (string, object)[] fields =
        [
            ("clock_hz", h.ClockHz), ("pe_x", h.PeX), ("pe_y", h.PeY), ("cores_per_pe", h.CoresPerPe), ("lanes_per_core", h.LanesPerCore),
            ("mac_ways_per_lane", h.MacWaysPerLane), ("act_broadcast_per_core_cycle", h.ActBroadcastPerCoreCycle),
            ("depthwise_vector_per_core_cycle", h.DepthwiseVectorPerCoreCycle), ("core_mem_bytes", h.CoreMemBytes), ("pe_mem_bytes", h.PeMemBytes),
            ("param_cache_bytes", h.ParamCacheBytes), ("max_activation_share", h.MaxActivationShare), ("off_chip_bytes_per_s", h.OffChipBytesPerSecond),
            ("weight_broadcast_bytes_per_cycle", h.WeightBroadcastBytesPerCycle), ("pe_mem_bytes_per_cycle", h.PeMemBytesPerCycle),
            ("activation_broadcast_bytes_per_cycle", h.ActivationBroadcastBytesPerCycle), ("layer_overhead_cycles", h.LayerOverheadCycles),
            ("pass_overhead_cycles", h.PassOverheadCycles), ("mac_pj", e.MacPj), ("core_mem_read_pj_per_byte", e.CoreMemReadPjPerByte),
            ("core_mem_write_pj_per_byte", e.CoreMemWritePjPerByte), ("pe_mem_read_pj_per_byte", e.PeMemReadPjPerByte),
            ("pe_mem_write_pj_per_byte", e.PeMemWritePjPerByte), ("broadcast_pj_per_byte", e.BroadcastPjPerByte),
            ("off_chip_pj_per_byte", e.OffChipPjPerByte), ("vector_op_pj", e.VectorOpPj), ("static_fraction", e.StaticFraction),
            ("host_link_bytes_per_s", h.Host.LinkBytesPerSecond), ("host_invocation_overhead_us", h.Host.InvocationOverheadUs),
            ("host_transfer_latency_us", h.Host.TransferLatencyUs), ("host_device_dram", h.Host.DeviceDram),
            ("host_cpu_ops_per_s", h.Host.CpuOpsPerSecond), ("host_cpu_op_overhead_us", h.Host.CpuOpOverheadUs),
            ("cpu_ops", string.Join("+", h.CpuOps)), ("partitioning", HardwareFile.PartitioningName(h.Partitioning)),
        ];
        return fields.Select(f => (f.Item1, Convert.ToString(f.Item2, CultureInfo.InvariantCulture)!)).ToList();
    }

    /// <summary>The fields as one line, <c>name=value;…</c> (kept in an experiment's spec).</summary>
    public static string Describe(HardwareConfig h) => string.Join(";", Fields(h).Select(f => $"{f.Name}={f.Value}"));

    private static string Compute(HardwareConfig h)
    {
        var text = string.Join("|", Fields(h).Select(f => f.Value));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }
}
