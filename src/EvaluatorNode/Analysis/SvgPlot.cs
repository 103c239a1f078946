using System.Globalization;
using System.Text;

namespace NasCluster.EvaluatorNode.Analysis;

/// <summary>
/// Latency versus parameters per variant, one panel per spatial size, log-log axes: the paper's
/// Figure 10 as a self-contained SVG (no plotting dependency).
/// </summary>
public static class SvgPlot
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    public static string LatencyVsParams(IReadOnlyList<BlockMeasurement> rows, string title)
    {
        const int panelW = 320, panelH = 260, margin = 52, legendH = 70;
        var sizes = BlockAnalyzer.Spatial;
        var width = sizes.Length * panelW + 20;
        var height = panelH + legendH + 60;
        var sb = new StringBuilder();
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append($"<text x=\"{width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{Escape(title)}</text>\n");
        var variants = BlockAnalyzer.Variants;
        for (var p = 0; p < sizes.Length; p++)
        {
            var s = sizes[p];
            var data = rows.Where(r => r.Spatial == s).ToList();
            double minX = Math.Log10(data.Min(r => r.Params)), maxX = Math.Log10(data.Max(r => r.Params));
            double minY = Math.Log10(data.Min(r => r.LatencyUs)), maxY = Math.Log10(data.Max(r => r.LatencyUs));
            if (maxX - minX < 1e-9) maxX = minX + 1;
            if (maxY - minY < 1e-9) maxY = minY + 1;
            var ox = p * panelW + margin;
            var oy = 40;
            var pw = panelW - margin - 10;
            var ph = panelH - 50;
            double X(double v) => ox + (Math.Log10(v) - minX) / (maxX - minX) * pw;
            double Y(double v) => oy + ph - (Math.Log10(v) - minY) / (maxY - minY) * ph;
            sb.Append($"<rect x=\"{ox}\" y=\"{oy}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>\n");
            sb.Append($"<text x=\"{ox + pw / 2}\" y=\"{oy - 6}\" text-anchor=\"middle\" font-size=\"12\">{s}x{s}</text>\n");
            for (var d = (int)Math.Ceiling(minX); d <= Math.Floor(maxX); d++)
                sb.Append($"<text x=\"{F(X(Math.Pow(10, d)))}\" y=\"{oy + ph + 14}\" text-anchor=\"middle\">1e{d}</text>\n");
            for (var d = (int)Math.Ceiling(minY); d <= Math.Floor(maxY); d++)
                sb.Append($"<text x=\"{ox - 4}\" y=\"{F(Y(Math.Pow(10, d)) + 4)}\" text-anchor=\"end\">{F(Math.Pow(10, d))}</text>\n");
            sb.Append($"<text x=\"{ox + pw / 2}\" y=\"{oy + ph + 30}\" text-anchor=\"middle\">parameters</text>\n");
            if (p == 0) sb.Append($"<text x=\"14\" y=\"{oy + ph / 2}\" transform=\"rotate(-90 14 {oy + ph / 2})\" text-anchor=\"middle\">latency (µs)</text>\n");
            for (var v = 0; v < variants.Count; v++)
            {
                var series = data.Where(r => r.Variant == variants[v]).OrderBy(r => r.Channels).ToList();
                var points = string.Join(" ", series.Select(r => $"{F(X(r.Params))},{F(Y(r.LatencyUs))}"));
                sb.Append($"<polyline fill=\"none\" stroke=\"{Colors[v % Colors.Length]}\" stroke-width=\"1.5\" points=\"{points}\"/>\n");
                foreach (var r in series)
                    sb.Append($"<circle cx=\"{F(X(r.Params))}\" cy=\"{F(Y(r.LatencyUs))}\" r=\"2\" fill=\"{Colors[v % Colors.Length]}\"><title>{Escape(r.Variant.Name)} {s}x{s}x{r.Channels}: {r.Params:N0} params, {F(r.LatencyUs)} µs, U {r.Utilization:0.00}</title></circle>\n");
            }
        }
        var ly = panelH + 40;
        for (var v = 0; v < variants.Count; v++)
        {
            var lx = 20 + v % 4 * 260;
            var y = ly + v / 4 * 20;
            sb.Append($"<line x1=\"{lx}\" y1=\"{y}\" x2=\"{lx + 24}\" y2=\"{y}\" stroke=\"{Colors[v % Colors.Length]}\" stroke-width=\"3\"/>\n");
            sb.Append($"<text x=\"{lx + 30}\" y=\"{y + 4}\">{Escape(variants[v].Name)}</text>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
