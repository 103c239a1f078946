using System.Collections.Immutable;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// One searchable knob: a name, the values it may take (after rules) and where it sits in the template
/// (field, stage, block), which is what rules select on and what reports group by.
/// </summary>
public sealed record Decision(
    string Name,
    ImmutableArray<ChoiceValue> Choices,
    string Field,
    int? Stage,
    int? Block,
    string Path)
{
    /// <summary>Choices before rules were applied (for <c>spaces info</c>).</summary>
    public ImmutableArray<ChoiceValue> DeclaredChoices { get; init; } = Choices;

    public int IndexOf(ChoiceValue value)
    {
        for (var i = 0; i < Choices.Length; i++)
            if (Choices[i].Equals(value)) return i;
        // Allow 1 to match 1.0 and the like.
        if (value.IsNumber)
            for (var i = 0; i < Choices.Length; i++)
                if (Choices[i].IsNumber && Choices[i].AsDouble == value.AsDouble) return i;
        return -1;
    }
}
