using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Zoo;

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

/// <summary>
/// The cost of one variant in place: MobileNetEdgeTPUv2-S with every block of <paramref name="Stage"/> built as
/// <paramref name="Variant"/>; params and accelerator latency are the whole network's.
/// </summary>
public sealed record StageMeasurement(int Stage, int Spatial, int Width, BlockVariant Variant, long Params, double LatencyUs,
    double EnergyUj, long StreamedBytes);

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
                    rows.Add(new BlockMeasurement(v, s, c, report.Params, report.Macs, report.AcceleratorMs * 1e3,
                        report.EnergyMj * 1e3, report.Utilization));
                }
        return rows;
    }

    /// <summary>
    /// Rules for the built-in classification space from the in-place measurements (<see cref="MeasureStages"/>):
    /// at each stage a variant is pruned when another is at least as fast (within
    /// <see cref="LatencyTolerance"/>) with at least as many parameters (strictly better in one), or when
    /// the parameters it adds over the stage's fastest variant cost more than twice the time a fully used array
    /// would take for them (<see cref="IdealRate"/>): it wastes most of the array, through low utilisation or
    /// weights that no longer fit the parameter cache. Group sizes become group_size rules; a block type is
    /// forbidden only when all its variants are pruned.
    /// </summary>
    public static IReadOnlyList<SuggestedRule> SuggestRules(IReadOnlyList<StageMeasurement> stages, HardwareConfig hw)
    {
        var rules = new List<SuggestedRule>();
        foreach (var (stage, verdicts) in PruneStages(stages, hw))
        {
            var at = stages.Where(m => m.Stage == stage && InSpace(m.Variant)).ToList();
            var spatial = at[0].Spatial;
            foreach (var type in at.GroupBy(m => m.Variant.Type))
            {
                var dead = type.Where(m => verdicts.ContainsKey(m.Variant)).ToList();
                if (dead.Count == type.Count())
                    rules.Add(new SuggestedRule("type", [stage], [type.Key],
                        $"at stage {stage} ({spatial}x{spatial}, {at[0].Width} filters, in MobileNetEdgeTPUv2-S) {type.Key}-IBN is pruned: {string.Join("; ", dead.Select(d => verdicts[d.Variant]).Distinct())}"));
                else if (type.Key == "gc" && dead.Count > 0)
                    rules.Add(new SuggestedRule("group_size", [stage], dead.Select(d => d.Variant.GroupSize.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
                        $"at stage {stage} ({spatial}x{spatial}) GC-IBN with group size {string.Join(", ", dead.Select(d => d.Variant.GroupSize))}: {string.Join("; ", dead.Select(d => verdicts[d.Variant]).Distinct())}"));
            }
        }
        return rules;
    }

    /// <summary>Latencies within this fraction count as equal: below what the model resolves (the two fidelities differ by up to 4%).</summary>
    public const double LatencyTolerance = 0.02;

    /// <summary>A variant that buys parameters at less than this share of <see cref="IdealRate"/> is pruned: it wastes most of the array.</summary>
    public const double MinRateShare = 0.5;

    /// <summary>
    /// Parameters per µs (of calibrated device time) that a perfectly used array adds at a spatial size: each
    /// weight of a conv is used once per output pixel, so peak MACs per µs over the pixels.
    /// </summary>
    public static double IdealRate(HardwareConfig hw, int spatial) =>
        hw.PeakMacsPerCycle * hw.ClockHz * 1e-6 / hw.CalibrationSlope / ((double)spatial * spatial);

    /// <summary>The variants the built-in space offers (dw, fused, gc); the generalized GC-IBN is shown but not judged.</summary>
    public static bool InSpace(BlockVariant v) => v.Kind != IbnKind.GeneralizedGroupConv;

    /// <summary>Per stage, in order, the variants of the space that <see cref="Prune"/> prunes there, each with the reason.</summary>
    public static IReadOnlyList<(int Stage, IReadOnlyDictionary<BlockVariant, string> Pruned)> PruneStages(IReadOnlyList<StageMeasurement> stages, HardwareConfig hw) =>
        stages.Select(m => m.Stage).Distinct().Order()
            .Select(s => (s, Prune(stages.Where(m => m.Stage == s && InSpace(m.Variant)).ToList(), hw)))
            .ToList();

    /// <summary>The pruned variants of one stage, each with the reason.</summary>
    public static IReadOnlyDictionary<BlockVariant, string> Prune(IReadOnlyList<StageMeasurement> at, HardwareConfig hw)
    {
        var verdicts = new Dictionary<BlockVariant, string>();
        foreach (var m in at)
        {
            var by = at.Where(o => o.Variant != m.Variant && !SameNetwork(o, m)
                    && o.LatencyUs <= m.LatencyUs * (1 + LatencyTolerance) && o.Params >= m.Params
                    && (o.LatencyUs < m.LatencyUs || o.Params > m.Params))
                .OrderBy(o => o.LatencyUs).FirstOrDefault();
            if (by is not null)
                verdicts[m.Variant] = $"{m.Variant.Name} is dominated by {by.Variant.Name} ({Describe(m)} vs {Describe(by)})";
        }
        var fastest = at.MinBy(m => m.LatencyUs)!;
        var ideal = IdealRate(hw, fastest.Spatial);
        foreach (var m in at.Where(m => !verdicts.ContainsKey(m.Variant) && m.Params > fastest.Params))
        {
            var rate = (m.Params - fastest.Params) / Math.Max(m.LatencyUs - fastest.LatencyUs, 1e-9);
            if (rate < MinRateShare * ideal)
                verdicts[m.Variant] = $"{m.Variant.Name} buys parameters at {rate:0} per µs over {fastest.Variant.Name}, {rate / ideal:P0} of what a fully used array buys at {m.Spatial}x{m.Spatial} ({ideal:0} per µs)"
                                      + (m.StreamedBytes > fastest.StreamedBytes ? $"; {m.StreamedBytes / 1048576.0:0.0} MiB of weights then stream from off-chip every inference" : "");
        }
        return verdicts;
    }

    private static string Describe(StageMeasurement m) => $"{m.LatencyUs:0.#} µs, {m.Params / 1e6:0.00}M params";

    /// <summary>
    /// Each IBN variant in place: every block of one stage of MobileNetEdgeTPUv2-S (the paper's network, whose
    /// stages are the built-in classification space's) replaced by the variant — each block keeping its own
    /// filters, kernel, stride and expansion — and the whole network priced. Unlike a block alone, this sees
    /// what a stage of such blocks does to the rest: the parameter cache they fill, weights that then stream.
    /// Latency is the accelerator's (the host's share does not depend on the blocks).
    /// </summary>
    public static IReadOnlyList<StageMeasurement> MeasureStages(HardwareConfig hw, LayerCostCache? cache = null)
    {
        cache ??= new LayerCostCache();
        var reference = EdgeTpuModels.V2Variants.Single(v => v.Name == "mobilenet-edgetpu-v2-s");
        var rows = new List<StageMeasurement>();
        for (var stage = 1; stage < EdgeTpuModels.V2Stages; stage++)
            foreach (var v in Variants)
            {
                var network = EdgeTpuModels.MobileNetEdgeTpuV2(reference, 224, (g, spec) => g != stage ? spec
                    : spec with { Kind = v.Kind, GroupSize = v.GroupSize, ExpansionPointwise = v.PointwiseExpansion, Groups = null });
                CostReport r;
                try
                {
                    r = CostModel.Estimate(network, hw, Fidelity.Analytical, cache);
                }
                catch (Compiler.UnmappableNetworkException)
                {
                    continue;
                }
                var spatial = network.Infos.Last(i => i.Layer.Name.StartsWith($"block{FirstBlock(stage)}/", StringComparison.Ordinal)).OutputShape.Height;
                rows.Add(new StageMeasurement(stage, spatial, reference.Filters[stage], v, r.Params, r.AcceleratorMs * 1e3,
                    r.EnergyMj * 1e3, r.StreamedWeightBytes));
            }
        return rows;
    }

    private static int FirstBlock(int stage) => Enumerable.Range(0, stage).Sum(EdgeTpuModels.V2StageBlocks);

    // A group size at or above the width builds the same network as fused; that is not domination.
    private static bool SameNetwork(StageMeasurement a, StageMeasurement b) =>
        a.Params == b.Params && Math.Abs(a.LatencyUs - b.LatencyUs) < 1e-9;
}
