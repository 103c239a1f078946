using System.Collections.Immutable;
using System.Text;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// One point of a search space: a choice index per decision. The index vector is what controllers
/// learn over; the values are what people read; both convert losslessly.
/// </summary>
public sealed class Candidate : IEquatable<Candidate>
{
    internal Candidate(Space space, ImmutableArray<int> vector)
    {
        Space = space;
        Vector = vector;
        Values = vector.Select((c, i) => space.Decisions[i].Choices[c]).ToImmutableArray();
    }

    public Space Space { get; }

    /// <summary>Choice index per decision, in <see cref="Space.Decisions"/> order.</summary>
    public ImmutableArray<int> Vector { get; }

    /// <summary>Chosen value per decision, in <see cref="Space.Decisions"/> order.</summary>
    public ImmutableArray<ChoiceValue> Values { get; }

    public ChoiceValue this[string decision] =>
        Space.IndexOf(decision) is var i and >= 0 ? Values[i] : throw new KeyNotFoundException($"no decision named '{decision}'");

    /// <summary>Compact stable key (choice indices joined by '.'), unique within a space.</summary>
    public string Key => string.Join(".", Vector);

    /// <summary>The candidate as a JSON object of decision name → value, in decision order.</summary>
    public string ToJson()
    {
        var sb = new StringBuilder("{");
        for (var i = 0; i < Values.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(System.Text.Json.JsonSerializer.Serialize(Space.Decisions[i].Name)).Append(": ").Append(Values[i].ToJson());
        }
        return sb.Append('}').ToString();
    }

    public bool Equals(Candidate? other) => other is not null && Space.Fingerprint == other.Space.Fingerprint && Vector.SequenceEqual(other.Vector);

    public override bool Equals(object? obj) => Equals(obj as Candidate);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var x in Vector) h.Add(x);
        return h.ToHashCode();
    }

    public override string ToString() => ToJson();
}
