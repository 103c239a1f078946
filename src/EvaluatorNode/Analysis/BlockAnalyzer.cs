using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;
using NasCluster.Shared.Protocol;

namespace NasCluster.EvaluatorNode.Analysis;

/// <summary>One IBN variant of the analyzer's grid.</summary>
public sealed record BlockVariant(string Name, IbnKind Kind, int GroupSize = 32, int PointwiseExpansion = 1)
{
    /// <summary>The search-space block type this variant is ("dw", "fused", "gc", "ggc").</summary>
    public string Type => IbnSpec.Name(Kind);
}

/// <summary>The cost of one variant at one shape.</summary>
public sealed record BlockMeasurement(BlockVariant Variant, int Spatial, int Channels, long Params, long Macs,
    double LatencyUs, double EnergyUj, double Utilization);

/// <summary>A search-space rule the analyzer suggests, with the evidence.</summary>
public sealed record SuggestedRule(string Field, IReadOnlyList<int> Stages, IReadOnlyList<string> Forbid, string Why);

/// <summary>
/// The neural block analyzer (the paper's Figure 10): prices every IBN variant over a grid of tensor
/// shapes on one accelerator, so the designer sees which variant buys parameters cheaply at which stage,
/// and suggests rules that prune variants dominated at a stage (never better in latency for the same or
/// more parameters, at every width).
/// </summary>
public static class BlockAnalyzer
{
    public static readonly int[] Spatial = [112, 56, 28, 14, 7];
    public static readonly int[] Widths = [16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384];

    public static readonly IReadOnlyList<BlockVariant> Variants =
    [
        new("dw-ibn", IbnKind.Depthwise),
        new("fused-ibn", IbnKind.Fused),
        new("gc-ibn-g8", IbnKind.GroupConv, 8),
        new("gc-ibn-g16", IbnKind.GroupConv, 16),
        new("gc-ibn-g32", IbnKind.GroupConv, 32),
        new("gc-ibn-g64", IbnKind.GroupConv, 64),
        new("gc-ibn-g128", IbnKind.GroupConv, 128),
        new("ggc-ibn-e1x2-g32", IbnKind.GeneralizedGroupConv, 32, 2),
    ];

    /// <summary>Stage indices of the built-in classification space at 224×224, by spatial size.</summary>
    public static readonly IReadOnlyDictionary<int, int[]> ClassificationStages = new Dictionary<int, int[]>
    {
        [112] = [0], [56] = [1], [28] = [2], [14] = [3, 4], [7] = [5, 6],
    };

    public static IReadOnlyList<BlockMeasurement> Measure(HardwareConfig hw, int kernel = 3, int expansion = 4, LayerCostCache? cache = null)
    {
        cache ??= new LayerCostCache();
        var rows = new List<BlockMeasurement>();
        foreach (var s in Spatial)
            foreach (var c in Widths)
                foreach (var v in Variants)
                {
                    var b = new NetworkBuilder($"{v.Name}@{s}x{s}x{c}");
                    var x = b.Input(s, s, c);
                    var y = Ibn.Build(b, x, new IbnSpec(v.Kind, c, kernel, 1, expansion, v.GroupSize, v.PointwiseExpansion), "block");
                    CostReport report;
                    try
                    {
                        report = CostModel.Estimate(b.Build(y), hw, Fidelity.Analytical, cache);
                    }
                    catch (Compiler.UnmappableNetworkException)
                    {
                        continue; // recorded as a missing cell; the tables and the plot show the gap
                    }
                    rows.Add(new BlockMeasurement(v, s, c, report.Params, report.Macs, (report.LatencyMs - report.RuntimeOverheadMs) * 1e3,
                        report.EnergyMj * 1e3, report.Utilization));
                }
        return rows;
    }

    /// <summary>
    /// Variants dominated at a spatial size: at every width some other variant is at least as fast with
    /// at least as many parameters (strictly better in one). Group sizes become group_size rules; a block
    /// type is forbidden only when all its variants are dominated.
    /// </summary>
    public static IReadOnlyList<SuggestedRule> SuggestRules(IReadOnlyList<BlockMeasurement> rows)
    {
        var rules = new List<SuggestedRule>();
        foreach (var s in Spatial)
        {
            var atSize = rows.Where(r => r.Spatial == s).ToList();
            var dominated = new List<(BlockVariant Variant, string By)>();
            foreach (var v in Variants)
            {
                var by = new HashSet<string>();
                var always = Widths.All(c =>
                {
                    var mine = atSize.SingleOrDefault(r => r.Variant == v && r.Channels == c);
                    if (mine is null) return true; // unmappable: nothing to lose by pruning it
                    var better = atSize.Where(r => r.Channels == c && r.Variant != v && !SameNetwork(r, mine)
                        && r.LatencyUs <= mine.LatencyUs && r.Params >= mine.Params
                        && (r.LatencyUs < mine.LatencyUs || r.Params > mine.Params)).ToList();
                    foreach (var b in better.Take(1)) by.Add(b.Variant.Name);
                    return better.Count > 0;
                });
                if (always) dominated.Add((v, string.Join("/", by)));
            }
            if (!ClassificationStages.TryGetValue(s, out var stages)) continue;
            var types = Variants.GroupBy(v => v.Type);
            foreach (var type in types)
            {
                var dead = dominated.Where(d => d.Variant.Type == type.Key).ToList();
                if (dead.Count == type.Count())
                    rules.Add(new SuggestedRule("type", stages, [type.Key],
                        $"at {s}x{s} every {type.Key} variant is dominated (by {string.Join(", ", dead.Select(d => d.By).Distinct())}) at all widths {Widths[0]}–{Widths[^1]}"));
                else if (type.Key == "gc" && dead.Count > 0)
                    rules.Add(new SuggestedRule("group_size", stages, dead.Select(d => d.Variant.GroupSize.ToString()).ToList(),
                        $"at {s}x{s} GC-IBN with group size {string.Join(", ", dead.Select(d => d.Variant.GroupSize))} is dominated (by {string.Join(", ", dead.Select(d => d.By).Distinct())})"));
            }
        }
        return rules;
    }

    // A group size at or above the width builds the same network as fused; that is not domination.
    private static bool SameNetwork(BlockMeasurement a, BlockMeasurement b) =>
        a.Params == b.Params && a.Macs == b.Macs && Math.Abs(a.LatencyUs - b.LatencyUs) < 1e-9;
}
