using NasCluster.EvaluatorNode.Compiler;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>
/// Ops the accelerator cannot run go to the host CPU the way the compiler splits graphs: every run of supported
/// layers its own accelerator segment (pixel6), or everything from the first unsupported op on (Coral).
/// </summary>
public class HostCpuTests
{
    /// <summary>conv → conv → Erf (host op) → conv → conv → global pool → dense: the host op in the middle.</summary>
    private static Network Sandwich()
    {
        var b = new NetworkBuilder("sandwich");
        var x = b.Input(28, 28, 16);
        x = b.Conv(x, 32, 3, name: "c1");
        x = b.Conv(x, 32, 1, name: "c2");
        x = b.Add(new HostOp("Erf"), "erf", x);
        x = b.Conv(x, 64, 3, name: "c3");
        x = b.Conv(x, 64, 1, name: "c4");
        return b.Build(b.Dense(b.GlobalPool(x), 10, name: "logits"));
    }

    [Fact]
    public void With_segments_a_host_op_splits_the_network_and_each_accelerator_segment_is_an_invocation()
    {
        var p6 = Probe.Pixel6;
        var n = Sandwich();
        var r = Probe.Cost(n);
        Assert.Equal(["tpu", "cpu", "tpu"], r.Segments.Select(s => s.Device));
        Assert.Equal(("erf", "erf", 1), (r.Segments[1].FirstLayer, r.Segments[1].LastLayer, r.Segments[1].Layers));
        var erf = n.Infos.Single(i => i.Layer.Name == "erf");
        Assert.Equal(CostModel.HostCpuMs(erf, p6), r.Host.CpuMs, 12);
        Assert.Equal(p6.Host.CpuOpOverheadUs * 1e-3 + erf.OutputShape.Elements / p6.Host.CpuOpsPerSecond * 1e3, r.Host.CpuMs, 12);
        Assert.Equal(2 * p6.CalibrationInterceptMs, r.Host.InvocationMs, 12);
        // The image goes in, c2's output comes back for the CPU, the Erf's goes in again, the logits come back.
        var c2 = n.Infos.Single(i => i.Layer.Name == "c2").OutputBytes;
        Assert.Equal(p6.Host.TransferMs(28 * 28 * 16) + p6.Host.TransferMs(c2), r.Host.InputMs, 12);
        Assert.Equal(p6.Host.TransferMs(c2) + p6.Host.TransferMs(10), r.Host.OutputMs, 12);
        // The CPU layer shows its CPU time; the rest adds up to the accelerator's share.
        var erfRow = r.Layers.Single(l => l.Name == "erf");
        Assert.Equal((Mapping.Host, Bound.HostCpu), (erfRow.Mapping, erfRow.Bound));
        Assert.Equal(r.Host.CpuMs, erfRow.LatencyMs, 12);
        Assert.Equal(r.LatencyMs - r.Host.TotalMs + r.Host.CpuMs, r.Layers.Sum(l => l.LatencyMs), 9);
        Assert.Equal(r.Segments.Where(s => !s.OnHost).Sum(s => s.Ms), r.AcceleratorMs, 9);
        // Detailed simulation makes the same split.
        Assert.Equal(["tpu", "cpu", "tpu"], Probe.Cost(n, f: Fidelity.Detailed).Segments.Select(s => s.Device));
    }

    [Fact]
    public void The_coral_compiler_hands_everything_after_the_first_unsupported_op_to_the_cpu()
    {
        var coral = HardwarePresets.Get("coral-usb3");
        Assert.Equal(Partitioning.FirstUnsupported, coral.Partitioning);
        var n = Sandwich();
        var r = Probe.Cost(n, coral);
        Assert.Equal(["tpu", "cpu"], r.Segments.Select(s => s.Device));
        Assert.Equal(("erf", "logits"), (r.Segments[1].FirstLayer, r.Segments[1].LastLayer));
        // c3 and c4 run on the CPU though the accelerator could run them: two MACs' worth of ops each, plus the dispatch.
        var onCpu = n.Infos.Where(i => i.Layer.Name is "erf" or "c3" or "c4" or "logits" || i.Layer.Op is GlobalPoolOp).ToList();
        Assert.Equal(onCpu.Sum(i => CostModel.HostCpuMs(i, coral)), r.Host.CpuMs, 9);
        Assert.Equal(coral.Host.InvocationOverheadUs * 1e-3, r.Host.InvocationMs, 12);
        // Nothing comes back from the accelerator but c2's output; the CPU's logits are already on the host.
        Assert.Equal(coral.Host.TransferMs(n.Infos.Single(i => i.Layer.Name == "c2").OutputBytes), r.Host.OutputMs, 12);
        // The parameter cache holds only what the accelerator runs.
        Assert.Equal(n.Infos.Where(i => i.Layer.Name is "c1" or "c2").Sum(i => i.WeightBytesInt8), r.CachedWeightBytes);
    }

    [Fact]
    public void Mobilebert_runs_on_the_coral_host_from_its_first_embedding_and_wholly_on_the_pixel6_tpu()
    {
        var n = ModelZoo.Build("mobilebert");
        var coral = Probe.Cost(n, HardwarePresets.Get("coral-pcie"));
        var cpu = Assert.Single(coral.Segments);
        Assert.True(cpu.OnHost);
        Assert.Equal(0, coral.SimulatedMs);
        Assert.Equal(0, coral.Host.InputMs); // token ids stay in host memory
        var pixel6 = Probe.Cost(n);
        Assert.False(Assert.Single(pixel6.Segments).OnHost);
        Assert.Equal(0, pixel6.Host.CpuMs);
    }

    [Fact]
    public void Cpu_ops_and_partitioning_come_from_hardware_files()
    {
        var h = HardwareFile.Parse("""
            {"format": "nascluster-hardware", "version": 1, "name": "no-softmax", "base": "pixel6", "cpu_ops": ["softmax"], "partitioning": "first-unsupported"}
            """, "h.json");
        Assert.Equal(["softmax"], h.CpuOps);
        Assert.Equal(Partitioning.FirstUnsupported, h.Partitioning);
        Assert.Contains(HardwareFile.Write(h), s => s == '[');
        var copy = HardwareFile.Parse(HardwareFile.Write(HardwarePresets.Get("coral-pcie")), "coral.json");
        Assert.Equal(HardwarePresets.Get("coral-pcie").CpuOps, copy.CpuOps);
        Assert.Equal(Partitioning.FirstUnsupported, copy.Partitioning);

        var unknown = Assert.ThrowsAny<NasInputException>(() => HardwareFile.Parse("""
            {"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "cpu_ops": ["softmax", "warp"]}
            """, "x.json"));
        Assert.Equal("$.cpu_ops[1]", unknown.JsonPath);
        Assert.Contains("unknown op \"warp\"", unknown.Message);
        var rule = Assert.ThrowsAny<NasInputException>(() => HardwareFile.Parse("""
            {"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "partitioning": "twice"}
            """, "x.json"));
        Assert.Contains("expected \"segments\" or \"first-unsupported\"", rule.Message);
    }
}
