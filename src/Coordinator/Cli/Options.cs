using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace NasCluster.Coordinator.Cli;

/// <summary>Option factories with parse errors a person can read ("--count expects an integer, got 'x'").</summary>
internal static class Options
{
    public static Option<int?> OptionalInt(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = r => ParseInt(r, name),
    };

    public static Option<int> Int(string name, string description, int defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r => ParseInt(r, name) ?? defaultValue,
    };

    public static Option<long> Long(string name, string description, long? defaultValue = null)
    {
        var option = new Option<long>(name)
        {
            Description = description,
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
                r.AddError($"{name} expects an integer, got '{text}'");
                return 0;
            },
        };
        if (defaultValue is { } d) option.DefaultValueFactory = _ => d;
        else option.Required = true;
        return option;
    }

    public static Option<double> Double(string name, string description, double defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)) return v;
            r.AddError($"{name} expects a number, got '{text}'");
            return defaultValue;
        },
    };

    private static int? ParseInt(ArgumentResult r, string name)
    {
        var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
        r.AddError($"{name} expects an integer, got '{text}'");
        return null;
    }
}
