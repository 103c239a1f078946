namespace NasCluster.EvaluatorNode.Hardware;

/// <summary>
/// What an inference costs outside the accelerator's array: the runtime's fixed cost per invocation,
/// moving the input in and the output out over the link to the host, and — on parts without memory of
/// their own (Coral) — every off-chip byte crossing that same link, each transfer paying the link's
/// latency. It also describes the host CPU that runs the ops the accelerator cannot (the compiler's
/// CPU segment). The Edge TPU of a phone SoC shares the SoC's LPDDR with the CPU: its "link" is that
/// memory, and the fixed cost per invocation is what the calibration's intercept measures.
/// </summary>
public sealed record HostInterface
{
    /// <summary>What the link is (shown by <c>hardware show</c>).</summary>
    public required string Link { get; init; }

    /// <summary>Sustained bytes per second of input, output and (without device DRAM) off-chip traffic.</summary>
    public required double LinkBytesPerSecond { get; init; }

    /// <summary>The runtime's fixed cost per invocation (interpreter, delegate, driver call, completion interrupt), µs.</summary>
    public required double InvocationOverheadUs { get; init; }

    /// <summary>Latency of one transfer over the link (scheduling, descriptor, completion), µs, paid once per transfer.</summary>
    public required double TransferLatencyUs { get; init; }

    /// <summary>
    /// True when off-chip traffic (streamed parameters, spilled activations) has a memory path of its own
    /// (the SoC's DRAM); false when it crosses the host link, one transfer per layer that needs it.
    /// </summary>
    public required bool DeviceDram { get; init; }

    /// <summary>What the host CPU is (shown by <c>hardware show</c>).</summary>
    public required string Cpu { get; init; }

    /// <summary>Sustained int8 operations per second (2 per multiply-accumulate) the host CPU reaches on fallback ops.</summary>
    public required double CpuOpsPerSecond { get; init; }

    /// <summary>Fixed cost of one op on the CPU (interpreter dispatch, cache warm-up), µs.</summary>
    public required double CpuOpOverheadUs { get; init; }

    public double TransferMs(long bytes) => bytes <= 0 ? 0 : TransferLatencyUs * 1e-3 + bytes / LinkBytesPerSecond * 1e3;
}
