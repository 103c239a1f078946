using System.Text;

namespace NasCluster.Shared.SearchSpace;

/// <summary>
/// A short human form of a candidate, grouped by stage and block, e.g.
/// <c>s1(filters=48): gc k5 e4 g32, fused k3 e8</c>. Only decisions with a real choice are shown.
/// </summary>
public static class CandidateSummary
{
    public static string Compact(Candidate c)
    {
        var space = c.Space;
        var groups = new List<(string Stage, List<(Decision D, ChoiceValue V)> Items)>();
        for (var i = 0; i < space.Decisions.Length; i++)
        {
            var d = space.Decisions[i];
            if (d.Choices.Length < 2) continue;
            var dot = d.Name.IndexOf('.');
            var stage = dot > 0 ? d.Name[..dot] : d.Name;
            if (groups.Count == 0 || groups[^1].Stage != stage) groups.Add((stage, []));
            groups[^1].Items.Add((d, c.Values[i]));
        }
        var sb = new StringBuilder();
        foreach (var (stage, items) in groups)
        {
            if (sb.Length > 0) sb.Append(" | ");
            var stageLevel = items.Where(x => x.D.Block is null && !IsBlockField(x.D.Field)).ToList();
            var blocks = items.Except(stageLevel).GroupBy(x => x.D.Block).ToList();
            sb.Append(stage);
            if (stageLevel.Count > 0) sb.Append('(').Append(string.Join(" ", stageLevel.Select(x => $"{x.D.Field}={x.V}"))).Append(')');
            if (blocks.Count > 0) sb.Append(": ").Append(string.Join(", ", blocks.Select(Block)));
        }
        return sb.ToString();
    }

    private static bool IsBlockField(string f) => f is "type" or "kernel" or "expansion" or "group_size" or "pointwise_expansion"
        or "bottleneck" or "heads" or "ffn_count" or "ffn_size";

    private static string Block(IEnumerable<(Decision D, ChoiceValue V)> items)
    {
        var v = items.ToDictionary(x => x.D.Field, x => x.V.ToString());
        var parts = new List<string>();
        var type = v.GetValueOrDefault("type");
        if (type is not null) parts.Add(type);
        if (v.TryGetValue("kernel", out var k)) parts.Add("k" + k);
        if (v.TryGetValue("expansion", out var e) && type is not ("sep" or "skip")) parts.Add("e" + e);
        if (v.TryGetValue("group_size", out var g) && type is null or "gc" or "ggc") parts.Add("g" + g);
        if (v.TryGetValue("pointwise_expansion", out var pe) && type is null or "ggc") parts.Add("e1=" + pe);
        parts.AddRange(v.Where(x => x.Key is not ("type" or "kernel" or "expansion" or "group_size" or "pointwise_expansion"))
            .Select(x => $"{x.Key}={x.Value}"));
        return string.Join(" ", parts);
    }
}
