using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Zoo;

namespace NasCluster.EvaluatorNode.Tests;

/// <summary>What an inference costs outside the array: invocation, input and output over the host link, link latency.</summary>
public class HostCostTests
{
    [Fact]
    public void The_input_and_output_cross_the_host_link_and_every_invocation_pays_the_runtime()
    {
        var usb = HardwarePresets.Get("coral-usb3");
        var n = ModelZoo.Build("mobilenet-v2");
        var r = Probe.Cost(n, usb);
        var (input, output) = CostModel.InputOutputBytes(n);
        Assert.Equal(224 * 224 * 3, input);
        Assert.Equal(1001, output);
        Assert.Equal(usb.Host.TransferLatencyUs * 1e-3 + input / usb.Host.LinkBytesPerSecond * 1e3, r.Host.InputMs, 12);
        Assert.Equal(usb.Host.TransferLatencyUs * 1e-3 + output / usb.Host.LinkBytesPerSecond * 1e3, r.Host.OutputMs, 12);
        Assert.Equal(usb.Host.InvocationOverheadUs * 1e-3, r.Host.InvocationMs, 12);
        Assert.Equal(r.SimulatedMs + r.Host.TotalMs, r.LatencyMs, 12); // uncalibrated: slope 1
        Assert.True(r.Host.TotalMs / r.LatencyMs > 0.3, $"host share {r.Host.TotalMs / r.LatencyMs:P0} of a small model on USB");
    }

    [Fact]
    public void Usb_and_pcie_differ_in_more_than_bandwidth()
    {
        var usb = HardwarePresets.Get("coral-usb3");
        var pcie = HardwarePresets.Get("coral-pcie");
        Assert.True(usb.Host.TransferLatencyUs > pcie.Host.TransferLatencyUs);
        Assert.True(usb.Host.InvocationOverheadUs > pcie.Host.InvocationOverheadUs);
        // The same bandwidth, USB's latencies: still slower.
        var usbAtPcieBandwidth = usb with { OffChipBytesPerSecond = pcie.OffChipBytesPerSecond, Host = usb.Host with { LinkBytesPerSecond = pcie.Host.LinkBytesPerSecond } };
        var n = ModelZoo.Build("mobilenet-v1");
        Assert.True(Probe.Cost(n, usbAtPcieBandwidth).LatencyMs > Probe.Cost(n, pcie).LatencyMs + 0.2);
    }

    [Fact]
    public void Without_device_dram_every_layer_with_off_chip_traffic_is_a_transfer_over_the_host_link()
    {
        var pcie = HardwarePresets.Get("coral-pcie");
        Assert.False(pcie.Host.DeviceDram);
        Assert.Equal(pcie.Host.LinkBytesPerSecond, pcie.OffChipBytesPerSecond);
        var n = ModelZoo.Build("resnet-152"); // 60 M parameters: most stream from the host every inference
        var r = Probe.Cost(n, pcie);
        var transfers = r.Layers.Count(l => l.OffChipBytes > 0);
        Assert.True(transfers > 10);
        Assert.Equal(transfers * pcie.Host.TransferLatencyUs * 1e-3, r.Host.LinkLatencyMs, 12);
        // The same part with DRAM of its own pays no link latency for it.
        var withDram = pcie with { Host = pcie.Host with { DeviceDram = true } };
        Assert.Equal(0, Probe.Cost(n, withDram).Host.LinkLatencyMs);
    }

    [Fact]
    public void On_the_phone_soc_the_host_share_is_the_calibrated_invocation_cost_plus_microseconds_of_dram_transfer()
    {
        var p6 = Probe.Pixel6;
        var r = Probe.Cost(ModelZoo.Build("mobilenet-edgetpu-v2-s"));
        Assert.Equal(p6.CalibrationInterceptMs, r.Host.InvocationMs, 12);
        Assert.InRange(r.Host.InputMs + r.Host.OutputMs, 1e-4, 0.02);
        Assert.Equal(0, r.Host.LinkLatencyMs);
        Assert.Equal(p6.CalibrationSlope * r.SimulatedMs + r.Host.TotalMs, r.LatencyMs, 12);
    }

    [Fact]
    public void Without_device_dram_activations_may_take_the_whole_sram_rather_than_cross_the_link_twice()
    {
        var pcie = HardwarePresets.Get("coral-pcie");
        Assert.Equal(1.0, pcie.MaxActivationShare);
        var n = ModelZoo.Build("deeplabv3plus-mobilenet-v2"); // 512×512 activations
        var own = Probe.Cost(n, pcie);
        var halfShare = Probe.Cost(n, pcie with { MaxActivationShare = 0.5 });
        Assert.True(own.ActivationSpillBytes < halfShare.ActivationSpillBytes / 4, $"{own.ActivationSpillBytes} vs {halfShare.ActivationSpillBytes} bytes spilled");
        Assert.True(own.StreamedWeightBytes > halfShare.StreamedWeightBytes); // parameters make room and stream instead
        Assert.True(own.LatencyMs < halfShare.LatencyMs);
    }
}
