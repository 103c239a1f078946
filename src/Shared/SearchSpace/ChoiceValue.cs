using System.Globalization;
using System.Text.Json;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// One value a decision can take: an integer (kernel 5), a real (multiplier 0.75) or a word (block type
/// "gc"). Values compare exactly and print the same way everywhere (CLI, JSON, candidate keys).
/// </summary>
public readonly record struct ChoiceValue
{
    private ChoiceValue(ChoiceKind kind, long integer, double real, string? text) =>
        (Kind, _integer, _real, _text) = (kind, integer, real, text);

    private readonly long _integer;
    private readonly double _real;
    private readonly string? _text;

    public ChoiceKind Kind { get; }

    public static ChoiceValue Of(long v) => new(ChoiceKind.Integer, v, 0, null);

    public static ChoiceValue Of(double v) =>
        v == Math.Floor(v) && Math.Abs(v) < 1e15 ? Of((long)v) : new(ChoiceKind.Real, 0, v, null);

    public static ChoiceValue Of(string v) => new(ChoiceKind.Text, 0, 0, v);

    public bool IsNumber => Kind != ChoiceKind.Text;

    public double AsDouble => Kind switch
    {
        ChoiceKind.Integer => _integer,
        ChoiceKind.Real => _real,
        _ => double.NaN,
    };

    public long? AsInteger => Kind == ChoiceKind.Integer ? _integer : null;

    public string? AsText => _text;

    /// <summary>Reads a JSON number or string; anything else is an error at that path.</summary>
    public static ChoiceValue From(JsonNode node) => node.Kind switch
    {
        JsonValueKind.String => Of(node.AsString()),
        JsonValueKind.Number => node.Element.TryGetInt64(out var i) ? Of(i) : Of(node.AsDouble()),
        _ => throw node.Error("expected a number or a string"),
    };

    /// <summary>Parses a value typed on a command line or in a candidate file.</summary>
    public static ChoiceValue Parse(string s) =>
        long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? Of(i)
        : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? Of(d)
        : Of(s);

    public override string ToString() => Kind switch
    {
        ChoiceKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        ChoiceKind.Real => _real.ToString("R", CultureInfo.InvariantCulture),
        _ => _text ?? "",
    };

    /// <summary>The value as a JSON literal.</summary>
    public string ToJson() => Kind == ChoiceKind.Text ? JsonSerializer.Serialize(_text) : ToString();

    public void WriteTo(Utf8JsonWriter w)
    {
        switch (Kind)
        {
            case ChoiceKind.Integer: w.WriteNumberValue(_integer); break;
            case ChoiceKind.Real: w.WriteNumberValue(_real); break;
            default: w.WriteStringValue(_text); break;
        }
    }
}

/// <summary>The kinds of value a decision's choices take, named as JSON Schema names them.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "JSON Schema's name for whole numbers")]
public enum ChoiceKind { Integer, Real, Text }
