using System.Text.Json;
using System.Text.Json.Serialization;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.Protocol;

/// <summary>The two kinds of work a trial needs: pricing by an evaluator, and a quality score from a trainer.</summary>
[JsonConverter(typeof(KindConverter<WorkKind>))]
public enum WorkKind
{
    Cost,
    Quality,
}

/// <summary>Which cost model prices a candidate: the closed-form analytical model or the tile-level simulator.</summary>
[JsonConverter(typeof(KindConverter<Fidelity>))]
public enum Fidelity
{
    Analytical,
    Detailed,
}

/// <summary>Where a trial's quality comes from: the distillation proxy (real training) or the synthetic function (no training).</summary>
[JsonConverter(typeof(KindConverter<QualityMode>))]
public enum QualityMode
{
    Proxy,
    Synthetic,
}

/// <summary>The search strategies an experiment can run.</summary>
[JsonConverter(typeof(KindConverter<ControllerKind>))]
public enum ControllerKind
{
    Reinforce,
    Evolution,
    Random,
}

/// <summary>
/// How an experiment turns results into proposals. Synchronous: a batch is proposed, every trial of it
/// finishes, the controller observes it, the next is proposed — one trajectory per seed, slots idle in a
/// batch's tail. Asynchronous: the controller observes each result as it arrives and refills the batch —
/// slots busy, the trajectory depends on timing. Pipelined: the controller observes in trial order, one
/// batch at a time, and keeps a window of trials in flight — slots busy and one trajectory per seed, batch
/// and window.
/// </summary>
[JsonConverter(typeof(KindConverter<SearchMode>))]
public enum SearchMode
{
    Synchronous,
    Asynchronous,
    Pipelined,
}

/// <summary>
/// The persisted and command-line names of the kinds: lower case, exactly the strings that version 1 of the
/// journal stored, so typing them changed no byte of a stored experiment.
/// </summary>
public static class Kinds
{
    public static string Name<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    public static IReadOnlyList<string> Names<T>() where T : struct, Enum => Enum.GetValues<T>().Select(Name).ToList();

    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        foreach (var v in Enum.GetValues<T>())
            if (string.Equals(Name(v), text, StringComparison.Ordinal))
            {
                value = v;
                return true;
            }
        value = default;
        return false;
    }

    /// <exception cref="NasInputException">Not one of the names; the message lists them.</exception>
    public static T Parse<T>(string? text, string what) where T : struct, Enum =>
        TryParse<T>(text, out var v) ? v : throw new NasInputException($"{what} must be {string.Join(", ", Names<T>().Select(n => $"'{n}'"))} (got '{text}')");
}

/// <summary>Writes and reads a kind as its lower-case name (never as a number, which would tie the journal to declaration order).</summary>
public sealed class KindConverter<T> : JsonConverter<T> where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return Kinds.TryParse<T>(text, out var v) ? v : throw new JsonException($"'{text}' is not a {typeof(T).Name} ({string.Join(", ", Kinds.Names<T>())})");
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(Kinds.Name(value));
}

/// <summary>
/// Which attempt of which trial's work a message answers: the correlation between a dispatch and its result,
/// so a late answer to an earlier attempt is told apart from the current one.
/// </summary>
public sealed record AttemptId(string Experiment, int TrialId, int Attempt)
{
    public override string ToString() => $"{Experiment}#{TrialId}.{Attempt}";
}
