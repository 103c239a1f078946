namespace NasCluster.TrainerNode.Detection;

/// <summary>
/// From an SSD head's raw outputs to detections, as SSD evaluates: per anchor a softmax over the classes
/// (background first), per class the anchors scoring above 0.05 (at most 200), their boxes decoded and
/// suppressed at IoU 0.45, and the 100 best of all classes kept.
/// </summary>
public static class SsdDecoder
{
    public const double MinScore = 0.05;
    public const double NmsIoU = 0.45;
    public const int PerClass = 200;
    public const int PerImage = 100;

    /// <param name="outputs">Per anchor, four box offsets and then <paramref name="classes"/> logits (background first).</param>
    /// <param name="anchors">The anchors, in the head's order.</param>
    /// <param name="classes">Classes with the background.</param>
    /// <returns>Detections with classes numbered from 0 (the first non-background class).</returns>
    public static List<LabelledBox> Detections(ReadOnlySpan<float> outputs, IReadOnlyList<Box> anchors, int classes)
    {
        var stride = 4 + classes;
        if (outputs.Length != anchors.Count * stride) throw new ArgumentException($"{outputs.Length} outputs for {anchors.Count} anchors of {stride} values", nameof(outputs));
        var candidates = Enumerable.Range(0, classes - 1).Select(_ => new List<LabelledBox>()).ToArray();
        var probabilities = new double[classes];
        for (var a = 0; a < anchors.Count; a++)
        {
            var row = outputs.Slice(a * stride, stride);
            var max = double.NegativeInfinity;
            for (var c = 0; c < classes; c++) max = Math.Max(max, row[4 + c]);
            double sum = 0;
            for (var c = 0; c < classes; c++) sum += probabilities[c] = Math.Exp(row[4 + c] - max);
            Box? box = null;
            for (var c = 1; c < classes; c++)
            {
                var p = probabilities[c] / sum;
                if (p <= MinScore) continue;
                box ??= BoxCodec.Decode(row[0], row[1], row[2], row[3], anchors[a]);
                candidates[c - 1].Add(new LabelledBox(c - 1, box.Value, p));
            }
        }
        return candidates
            .SelectMany(list => DetectionMetrics.Nms(list.OrderByDescending(d => d.Score).Take(PerClass), NmsIoU))
            .OrderByDescending(d => d.Score).Take(PerImage).ToList();
    }
}
