using System.Globalization;
using System.Text.Json;

namespace NasCluster.Shared.Util;

/// <summary>
/// A JSON value together with where it is (file and JSON path). Readers of user files go through this
/// so every complaint says exactly which value is wrong and why, and unknown keys (usually typos) are
/// reported instead of silently ignored.
/// </summary>
public readonly record struct JsonNode(JsonElement Element, string Path, string? File)
{
    private static readonly JsonDocumentOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 128,
    };

    /// <summary>Parses <paramref name="text"/>; malformed JSON becomes a <see cref="NasInputException"/> with line and column.</summary>
    public static JsonNode Parse(string text, string? file)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, Options);
            return new JsonNode(doc.RootElement.Clone(), "$", file);
        }
        catch (JsonException e)
        {
            var message = e.Message;
            var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut < 0) cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
            var where = e.LineNumber is { } line ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : null;
            throw new NasInputException($"malformed JSON: {message.TrimEnd('.')}", file, where);
        }
    }

    /// <summary>Reads and parses a file; a missing or unreadable file is a <see cref="NasInputException"/>.</summary>
    public static JsonNode Load(string path)
    {
        string text;
        try
        {
            text = System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new NasInputException(e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : $"cannot read file: {e.Message}", path);
        }
        return Parse(text, path);
    }

    public JsonValueKind Kind => Element.ValueKind;

    public NasInputException Error(string reason) => new(reason, File, Path);

    private string Describe() => Kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Element.GetString()}\"",
        JsonValueKind.Number => $"the number {Element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => Element.GetRawText(),
        JsonValueKind.Null => "null",
        _ => Kind.ToString(),
    };

    public JsonNode ExpectObject()
    {
        if (Kind != JsonValueKind.Object) throw Error($"expected an object, got {Describe()}");
        return this;
    }

    public bool Has(string name) => Kind == JsonValueKind.Object && Element.TryGetProperty(name, out _);

    public JsonNode Prop(string name)
    {
        ExpectObject();
        if (!Element.TryGetProperty(name, out var value)) throw Error($"missing required key \"{name}\"");
        return new JsonNode(value, $"{Path}.{name}", File);
    }

    public bool TryProp(string name, out JsonNode node)
    {
        ExpectObject();
        if (Element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
        {
            node = new JsonNode(value, $"{Path}.{name}", File);
            return true;
        }
        node = default;
        return false;
    }

    public IEnumerable<string> Keys => Kind == JsonValueKind.Object ? Element.EnumerateObject().Select(p => p.Name) : [];

    /// <summary>Rejects keys other than <paramref name="allowed"/>: a misspelt key must not be silently ignored.</summary>
    public void AllowOnly(params string[] allowed)
    {
        ExpectObject();
        foreach (var p in Element.EnumerateObject())
            if (Array.IndexOf(allowed, p.Name) < 0)
                throw new NasInputException($"unknown key \"{p.Name}\" (allowed here: {string.Join(", ", allowed)})", File, $"{Path}.{p.Name}");
    }

    public IReadOnlyList<JsonNode> Items()
    {
        if (Kind != JsonValueKind.Array) throw Error($"expected an array, got {Describe()}");
        var path = Path;
        var file = File;
        return Element.EnumerateArray().Select((e, i) => new JsonNode(e, $"{path}[{i}]", file)).ToList();
    }

    public string AsString()
    {
        if (Kind != JsonValueKind.String) throw Error($"expected a string, got {Describe()}");
        return Element.GetString()!;
    }

    public bool AsBool() => Kind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Error($"expected true or false, got {Describe()}"),
    };

    public long AsLong()
    {
        if (Kind != JsonValueKind.Number || !Element.TryGetInt64(out var v)) throw Error($"expected an integer, got {Describe()}");
        return v;
    }

    public int AsInt()
    {
        var v = AsLong();
        if (v is < int.MinValue or > int.MaxValue) throw Error($"integer {v} is out of range");
        return (int)v;
    }

    /// <summary>An integer that must be ≥ <paramref name="min"/>.</summary>
    public int AsInt(int min)
    {
        var v = AsInt();
        if (v < min) throw Error($"must be at least {min.ToString(CultureInfo.InvariantCulture)} (got {v.ToString(CultureInfo.InvariantCulture)})");
        return v;
    }

    public double AsDouble()
    {
        if (Kind != JsonValueKind.Number) throw Error($"expected a number, got {Describe()}");
        var v = Element.GetDouble();
        if (!double.IsFinite(v)) throw Error("expected a finite number");
        return v;
    }

    public string Raw => Element.GetRawText();
}
