using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Blocks;

namespace NasCluster.EvaluatorNode.Analysis;

/// <summary>One of the paper's block findings as the model reproduces it (or not), with the numbers behind it.</summary>
public sealed record Finding(string Id, string Claim, bool Holds, string Detail);

/// <summary>
/// The paper's findings on IBN variants (Akin et al. 2022 §5.1; MobileNetEdgeTPU's design), checked against
/// what the block analyzer derives in place on one piece of hardware — nothing here is an input to the
/// model, so a finding that holds comes out of the hardware description, and one that does not says so.
/// <c>hardware sensitivity</c> re-runs them on every variation of a preset's assumed figures.
/// </summary>
public static class PaperFindings
{
    /// <summary>The paper's minimum group size (read as input channels per group, NasCluster's convention).</summary>
    public const int PaperMinGroupSize = 32;

    /// <summary>Stages (of MobileNetEdgeTPUv2 and the built-in classification space) where MobileNetEdgeTPUv2 uses fused IBNs.</summary>
    public static readonly int[] EarlyStages = [1, 2];

    /// <summary>The channel-deep 7×7 stages where the paper prunes fused IBNs.</summary>
    public static readonly int[] LateStages = [5, 6];

    public static IReadOnlyList<Finding> Evaluate(HardwareConfig hw, LayerCostCache? cache = null) =>
        Evaluate(BlockAnalyzer.MeasureStages(hw, cache), hw);

    public static IReadOnlyList<Finding> Evaluate(IReadOnlyList<StageMeasurement> stages, HardwareConfig hw)
    {
        var pruned = BlockAnalyzer.PruneStages(stages, hw).ToDictionary(x => x.Stage, x => x.Pruned);
        bool Pruned(int stage, IbnKind kind) =>
            stages.Where(m => m.Stage == stage && m.Variant.Kind == kind).All(m => pruned[stage].ContainsKey(m.Variant));
        StageMeasurement? At(int stage, IbnKind kind) => stages.FirstOrDefault(m => m.Stage == stage && m.Variant.Kind == kind);

        var late = LateStages.Where(s => Pruned(s, IbnKind.Fused)).ToList();
        var earlyKept = EarlyStages.Where(s => !Pruned(s, IbnKind.Fused)).ToList();
        var a = new Finding("fused-late", "fused-IBN loses in the late, channel-deep stages and is pruned there, but not early",
            late.Count == LateStages.Length && earlyKept.Count == EarlyStages.Length,
            $"fused pruned at stages [{string.Join(", ", stages.Select(m => m.Stage).Distinct().Where(s => Pruned(s, IbnKind.Fused)))}] "
            + $"(needed: {string.Join(", ", LateStages)}; kept at {string.Join(", ", EarlyStages)})");

        // The smallest group size some stage keeps, and per stage the smallest it keeps.
        var perStage = stages.Select(m => m.Stage).Distinct().Where(s => s >= 2).Order()
            .Select(s => (Stage: s, Min: stages.Where(m => m.Stage == s && m.Variant.Kind == IbnKind.GroupConv && !pruned[s].ContainsKey(m.Variant))
                .Select(m => (int?)m.Variant.GroupSize).Min()))
            .ToList();
        var useful = perStage.Where(x => x.Min is not null).Select(x => x.Min!.Value).DefaultIfEmpty(0).Min();
        var b = new Finding("min-group-size", $"a minimum useful group size near the paper's {PaperMinGroupSize}",
            useful >= PaperMinGroupSize / 2 && useful <= PaperMinGroupSize * 2,
            $"smallest group size kept: {(useful == 0 ? "none" : $"{useful} input channels per group")} (per stage: "
            + string.Join(", ", perStage.Select(x => $"{x.Stage}: {(x.Min is { } g ? g.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")}"))
            + $"); with expansion 4 that is {4 * useful} output filters per group (the TF Model Garden's convention); near means within a factor of 2");

        var ahead = EarlyStages.Select(s => (Stage: s, Fused: At(s, IbnKind.Fused), Dw: At(s, IbnKind.Depthwise))).ToList();
        var c = new Finding("fused-early", "fused-IBN ahead of depthwise-IBN in the early stages where MobileNetEdgeTPU uses it",
            ahead.All(x => x.Fused is not null && x.Dw is not null && x.Fused.LatencyUs < x.Dw.LatencyUs && !Pruned(x.Stage, IbnKind.Fused)),
            string.Join("; ", ahead.Select(x => x.Fused is null || x.Dw is null ? $"stage {x.Stage}: not mappable"
                : $"stage {x.Stage} ({x.Fused.Spatial}x{x.Fused.Spatial}): fused {x.Fused.LatencyUs:0.#} µs, {x.Fused.Params / 1e6:0.00}M params vs depthwise {x.Dw.LatencyUs:0.#} µs, {x.Dw.Params / 1e6:0.00}M")));

        var dwLate = Enumerable.Range(3, 4).Where(s => stages.Any(m => m.Stage == s)).ToList();
        var dwKept = dwLate.Where(s => !Pruned(s, IbnKind.Depthwise)).ToList();
        var d = new Finding("dw-late", "depthwise-IBN kept from stage 3 on, where MobileNetEdgeTPUv2 uses it (not one of the issue's findings; reported)",
            dwKept.Count == dwLate.Count,
            $"depthwise kept at stages [{string.Join(", ", dwKept)}] of [{string.Join(", ", dwLate)}]");
        return [a, b, c, d];
    }
}
