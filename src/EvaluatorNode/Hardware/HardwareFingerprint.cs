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

    private static string Compute(HardwareConfig h)
    {
        var e = h.Energy;
        var text = string.Join("|", new object[]
        {
            h.ClockHz, h.PeX, h.PeY, h.CoresPerPe, h.LanesPerCore, h.MacWaysPerLane, h.ActBroadcastPerCoreCycle,
            h.DepthwiseVectorPerCoreCycle, h.CoreMemBytes, h.PeMemBytes, h.ParamCacheBytes, h.MaxActivationShare,
            h.OffChipBytesPerSecond, h.WeightBroadcastBytesPerCycle, h.PeMemBytesPerCycle, h.ActivationBroadcastBytesPerCycle,
            h.LayerOverheadCycles, h.PassOverheadCycles, e.MacPj, e.CoreMemReadPjPerByte, e.CoreMemWritePjPerByte,
            e.PeMemReadPjPerByte, e.PeMemWritePjPerByte, e.BroadcastPjPerByte, e.OffChipPjPerByte, e.VectorOpPj, e.StaticFraction,
        }.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }
}
