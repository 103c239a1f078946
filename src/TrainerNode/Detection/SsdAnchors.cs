using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Detection;

/// <summary>One prediction level of an SSD head at proxy scale: its feature map and anchors per cell.</summary>
public sealed record HeadLevel(int Height, int Width, int Anchors);

/// <summary>
/// SSD's default boxes (Liu et al., 2016, §2.2): level l of L has scale s_l = 0.2 + 0.75·l/(L−1); a cell's
/// anchors are, in order, aspect ratios 1, 2, 1/2, 3, 1/3 at s_l and then ratio 1 at √(s_l·s_{l+1}), the
/// first <c>Anchors</c> of those (3 on the first level of SSDLite, 6 elsewhere), centred on the cell. The
/// order is the head's: cell by cell in row-major order, anchors within a cell, levels in concatenation order.
/// </summary>
public static class SsdAnchors
{
    public const double MinScale = 0.2;
    public const double MaxScale = 0.95;

    private static readonly double[] Ratios = [1, 2, 0.5, 3, 1.0 / 3];

    /// <exception cref="NasInputException">A level with more than 6 anchors per cell (SSD defines 6).</exception>
    public static Box[] Generate(IReadOnlyList<HeadLevel> levels)
    {
        var boxes = new List<Box>();
        for (var l = 0; l < levels.Count; l++)
        {
            var level = levels[l];
            if (level.Anchors is < 1 or > 6) throw new NasInputException($"head level {l} has {level.Anchors} anchors per cell; SSD's default boxes are 1 to 6");
            var s = Scale(l, levels.Count);
            var next = l + 1 < levels.Count ? Scale(l + 1, levels.Count) : 1.0;
            for (var y = 0; y < level.Height; y++)
                for (var x = 0; x < level.Width; x++)
                {
                    var (cx, cy) = ((x + 0.5) / level.Width, (y + 0.5) / level.Height);
                    for (var k = 0; k < level.Anchors; k++)
                    {
                        // The sixth anchor (or the last of fewer than six, after the first three) is the in-between scale.
                        var extra = k == 5 || (k == level.Anchors - 1 && level.Anchors is 4);
                        var (scale, ratio) = extra ? (Math.Sqrt(s * next), 1.0) : (s, Ratios[k]);
                        boxes.Add(Box.FromCenter(cx, cy, scale * Math.Sqrt(ratio), scale / Math.Sqrt(ratio)));
                    }
                }
        }
        return [.. boxes];
    }

    public static double Scale(int level, int levels) => levels == 1 ? MinScale : MinScale + (MaxScale - MinScale) * level / (levels - 1);
}

/// <summary>
/// The training targets of one scene (SSD's matching): every true box takes the anchor it overlaps most,
/// and every other anchor whose best overlap with a true box is at least <see cref="PositiveIoU"/> takes that box; the rest
/// are background. A matched anchor's label is 1 + the box's class and its offsets the box's coding.
/// </summary>
public static class AnchorMatching
{
    /// <summary>
    /// The overlap from which an anchor is matched (SSD: 0.5). The proxy's scenes are small and its heads coarse
    /// (an 8×8 finest level on a 64-pixel canvas), so few anchors reach 0.5 and a 300-step proxy of an
    /// inverted-bottleneck detector learned nothing at 0.5 or 0.4 (mAP@0.5 0.1–1.5 %) but did at 0.3 (8.5 %).
    /// </summary>
    public const double PositiveIoU = 0.3;

    /// <param name="anchors">The anchors, in the head's order.</param>
    /// <param name="truth">The scene's true boxes.</param>
    /// <param name="labels">Per anchor: 0 background, else 1 + class (written).</param>
    /// <param name="offsets">Per anchor, four values of <see cref="BoxCodec.Encode"/> (written; zero for background).</param>
    public static void Match(IReadOnlyList<Box> anchors, IReadOnlyList<LabelledBox> truth, Span<byte> labels, Span<float> offsets)
    {
        labels.Clear();
        offsets.Clear();
        if (truth.Count == 0) return;
        var best = new int[anchors.Count];
        var overlap = new double[anchors.Count];
        for (var a = 0; a < anchors.Count; a++)
        {
            best[a] = -1;
            for (var g = 0; g < truth.Count; g++)
            {
                var iou = Box.IoU(anchors[a], truth[g].Box);
                if (iou > overlap[a]) (overlap[a], best[a]) = (iou, g);
            }
        }
        // Each true box keeps its best anchor, whatever its overlap (a later box wins an anchor two boxes share).
        for (var g = 0; g < truth.Count; g++)
        {
            var (anchor, top) = (-1, -1.0);
            for (var a = 0; a < anchors.Count; a++)
            {
                var iou = Box.IoU(anchors[a], truth[g].Box);
                if (iou > top) (top, anchor) = (iou, a);
            }
            if (anchor < 0 || top <= 0) continue;
            (overlap[anchor], best[anchor]) = (2, g);
        }
        for (var a = 0; a < anchors.Count; a++)
        {
            if (best[a] < 0 || overlap[a] < PositiveIoU) continue;
            var t = truth[best[a]];
            labels[a] = (byte)(1 + t.Class);
            var (dx, dy, dw, dh) = BoxCodec.Encode(t.Box, anchors[a]);
            (offsets[4 * a], offsets[4 * a + 1], offsets[4 * a + 2], offsets[4 * a + 3]) = (dx, dy, dw, dh);
        }
    }
}
