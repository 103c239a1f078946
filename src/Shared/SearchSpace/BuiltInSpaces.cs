using System.Reflection;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// The spaces shipped in <c>spaces/</c>, embedded in the assembly so a space can be named from any
/// directory. Users copy a file, edit it and pass the path instead.
/// </summary>
public static class BuiltInSpaces
{
    private const string Prefix = "spaces/";
    private static readonly Assembly Assembly = typeof(BuiltInSpaces).Assembly;

    public static IReadOnlyList<string> Names { get; } = Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..^".json".Length])
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>The JSON text of a built-in space.</summary>
    public static string Text(string name)
    {
        using var stream = Assembly.GetManifestResourceStream($"{Prefix}{name}.json")
            ?? throw new NasInputException($"no built-in space named '{name}' (built-in: {string.Join(", ", Names)})");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static Space Load(string name) => SearchSpaceLoader.Parse(Text(name), $"built-in:{name}");

    /// <summary>
    /// Loads <paramref name="fileOrName"/>: an existing file path wins; otherwise a built-in name
    /// (with or without <c>.json</c>).
    /// </summary>
    /// <exception cref="NasInputException">Neither a readable file nor a built-in name, or an invalid document.</exception>
    public static Space Resolve(string fileOrName)
    {
        if (File.Exists(fileOrName)) return SearchSpaceLoader.Load(fileOrName);
        var name = fileOrName.EndsWith(".json", StringComparison.Ordinal) ? Path.GetFileNameWithoutExtension(fileOrName) : fileOrName;
        if (!fileOrName.Contains('/') && Names.Contains(name)) return Load(name);
        throw new NasInputException($"no such file, and no built-in space named '{fileOrName}' (built-in: {string.Join(", ", Names)})", fileOrName);
    }
}
