using NasCluster.Shared.Util;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// A template field: a fixed value or a reference to a decision. Build resolves it against a
/// candidate's values.
/// </summary>
internal sealed record Slot(string Key, string Path, ChoiceValue? Fixed, int Decision)
{
    public static Slot Constant(string key, string path, ChoiceValue value) => new(key, path, value, -1);

    public ChoiceValue Get(IReadOnlyList<ChoiceValue> values) => Fixed ?? values[Decision];

    public int Int(IReadOnlyList<ChoiceValue> values) => (int)Get(values).AsDouble;

    public double Real(IReadOnlyList<ChoiceValue> values) => Get(values).AsDouble;

    public string Text(IReadOnlyList<ChoiceValue> values) => Get(values).AsText ?? Get(values).ToString();
}

/// <summary>A channel count: either given directly or as base × multiplier rounded to a divisor.</summary>
internal sealed record FiltersSlot(Slot? Plain, int Base, Slot? Multiplier, int Divisor)
{
    public int Get(IReadOnlyList<ChoiceValue> values) =>
        Plain is not null ? Plain.Int(values) : Zoo.Channels.Round(Base, Multiplier!.Real(values), Divisor);
}

internal sealed record BlockTemplate(Slot Type, Slot Kernel, Slot Expansion, Slot GroupSize, Slot PointwiseExpansion);

/// <summary>
/// A stage: blocks sharing an output width. With <c>PerBlock</c> every block has its own decisions
/// (<c>Blocks.Count == MaxRepeats</c>), otherwise one block template is shared by all repeats.
/// Detection head stages also read <c>Inputs</c> (earlier stages) at a target <c>Level</c>.
/// </summary>
internal sealed record StageTemplate(
    string Name,
    int Index,
    FiltersSlot Filters,
    Slot Stride,
    Slot Repeats,
    int MaxRepeats,
    IReadOnlyList<BlockTemplate> Blocks,
    bool PerBlock,
    IReadOnlyList<Slot> Inputs,
    Slot? Level)
{
    public BlockTemplate Block(int i) => PerBlock ? Blocks[i] : Blocks[0];
}

internal sealed record StemTemplate(FiltersSlot Filters, Slot Kernel, Slot Stride);

internal abstract record HeadTemplate;

internal sealed record ClassificationHeadTemplate(Slot? TopFilters, int Classes) : HeadTemplate;

internal sealed record BiFpnHeadTemplate(Slot MinLevel, Slot MaxLevel, Slot Channels, Slot Repeats, Slot HeadChannels, int Classes) : HeadTemplate;

internal sealed record SsdHeadTemplate(IReadOnlyList<int> OutputStages, IReadOnlyList<int> Anchors, int Classes) : HeadTemplate;

internal sealed record EncoderTemplate(
    int SequenceLength,
    int Vocabulary,
    int EmbeddingDim,
    Slot Layers,
    int MaxLayers,
    bool PerLayer,
    IReadOnlyList<EncoderLayerTemplate> LayerTemplates,
    Slot Hidden,
    int Outputs) : HeadTemplate
{
    public EncoderLayerTemplate Layer(int i) => PerLayer ? LayerTemplates[i] : LayerTemplates[0];
}

internal sealed record EncoderLayerTemplate(Slot Bottleneck, Slot Heads, Slot FfnCount, Slot FfnSize);

/// <summary>The whole topology template of a space.</summary>
internal sealed record SpaceTemplate(
    string Task,
    int Resolution,
    int InputChannels,
    StemTemplate? Stem,
    IReadOnlyList<StageTemplate> Stages,
    HeadTemplate Head);

internal static class BlockTypes
{
    public static readonly string[] All = ["dw", "fused", "gc", "ggc", "sep", "skip"];

    public static void Check(JsonNode node, ChoiceValue v)
    {
        if (v.AsText is not { } t || Array.IndexOf(All, t) < 0)
            throw node.Error($"unknown block type {v.ToJson()} (known: {string.Join(", ", All)})");
    }
}
