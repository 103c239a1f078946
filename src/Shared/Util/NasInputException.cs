namespace NasCluster.Shared.Util;

/// <summary>
/// A problem with something a user handed us (a file, a name, a network), as opposed to a bug.
/// It exists so every entry point can turn bad input into one clear line — which file, where in it,
/// what is wrong — and a usage exit code, instead of a stack trace.
/// </summary>
public class NasInputException : Exception
{
    public NasInputException(string reason, string? file = null, string? jsonPath = null, Exception? inner = null)
        : base(Format(file, jsonPath, reason), inner)
    {
        Reason = reason;
        File = file;
        JsonPath = jsonPath;
    }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    /// <summary>The file the problem is in, if it came from a file.</summary>
    public string? File { get; }

    /// <summary>JSON path (<c>$.stages[2].kernel</c>) of the offending value, if known.</summary>
    public string? JsonPath { get; }

    /// <summary>Returns the same problem located in <paramref name="file"/> (keeps the JSON path).</summary>
    public virtual NasInputException InFile(string file) => new(Reason, file, JsonPath, this);

    private static string Format(string? file, string? jsonPath, string reason)
    {
        var where = string.Join(": ", new[] { file, jsonPath }.Where(s => !string.IsNullOrEmpty(s)));
        return where.Length == 0 ? reason : $"{where}: {reason}";
    }
}
