using System.Globalization;

namespace NasCluster.Coordinator.Cli;

/// <summary>Human number formats used across commands.</summary>
internal static class Format
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>3,472,041 → "3.47M"; 15,470,300,000 → "15.47G".</summary>
    public static string Count(double v) => v switch
    {
        >= 1e9 => (v / 1e9).ToString("0.00", Inv) + "G",
        >= 1e6 => (v / 1e6).ToString("0.00", Inv) + "M",
        >= 1e3 => (v / 1e3).ToString("0.0", Inv) + "K",
        _ => v.ToString("0", Inv),
    };

    /// <summary>Bytes in binary units, the way the Edge TPU compiler reports its caches.</summary>
    public static string Bytes(double v) => v switch
    {
        >= 1 << 30 => (v / (1 << 30)).ToString("0.00", Inv) + " GiB",
        >= 1 << 20 => (v / (1 << 20)).ToString("0.00", Inv) + " MiB",
        >= 1 << 10 => (v / (1 << 10)).ToString("0.0", Inv) + " KiB",
        _ => v.ToString("0", Inv) + " B",
    };

    public static string Percent(double fraction) => (fraction * 100).ToString("+0.00;-0.00", Inv) + "%";

    public static string Num(double v, string format = "0.###") => v.ToString(format, Inv);

    /// <summary>A duration as people read it: 45 s, 3 min 20 s, 2 h 05 min.</summary>
    public static string Duration(TimeSpan t) => t.TotalSeconds switch
    {
        < 60 => $"{t.TotalSeconds:0} s",
        < 3600 => $"{(int)t.TotalMinutes} min {t.Seconds:00} s",
        < 360_000 => $"{(int)t.TotalHours} h {t.Minutes:00} min",
        _ => $"{t.TotalDays:0} days",
    };
}
