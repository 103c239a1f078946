using System.Globalization;

namespace NasCluster.Bench;

/// <summary>A malformed bench option; Program prints the message and exits with 2.</summary>
internal sealed class BenchArgumentException(string message) : Exception(message);

/// <summary>The benches' "--name value" options, parsed invariantly; a value that does not parse names its option.</summary>
internal static class BenchArgs
{
    public static string? Text(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static int Int(string[] args, string name, int fallback) => Text(args, name) is not { } v ? fallback
        : int.TryParse(v, CultureInfo.InvariantCulture, out var n) ? n : throw new BenchArgumentException($"{name} needs a whole number (got '{v}')");

    public static double Double(string[] args, string name, double fallback) => Text(args, name) is not { } v ? fallback
        : double.TryParse(v, CultureInfo.InvariantCulture, out var x) ? x : throw new BenchArgumentException($"{name} needs a number (got '{v}')");
}
