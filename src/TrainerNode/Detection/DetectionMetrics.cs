namespace NasCluster.TrainerNode.Detection;

/// <summary>
/// The detection proxy's score: mAP at IoU 0.5 (PASCAL VOC's metric). Detections of each class, from
/// every validation scene, are ranked by score; one is a true positive if its best-overlapping true box of
/// that class (in its scene) overlaps it by at least 0.5 and no higher-ranked detection took that box;
/// AP is the area under the precision–recall curve with precision made monotone (all-point interpolation,
/// VOC 2010 on); mAP is the mean over the classes that occur in the truth.
/// </summary>
public static class DetectionMetrics
{
    /// <summary>Greedy non-maximum suppression within one class: highest score first, dropping boxes that overlap a kept one by more than <paramref name="iou"/>.</summary>
    public static List<LabelledBox> Nms(IEnumerable<LabelledBox> detections, double iou)
    {
        var kept = new List<LabelledBox>();
        foreach (var d in detections.OrderByDescending(d => d.Score))
            if (kept.All(k => Box.IoU(k.Box, d.Box) <= iou)) kept.Add(d);
        return kept;
    }

    /// <summary>All-point interpolated AP of detections ranked by score, given which are true positives and how many true boxes there are.</summary>
    public static double AveragePrecision(IReadOnlyList<bool> rankedTruePositives, int truthCount)
    {
        if (truthCount == 0) return 0;
        var n = rankedTruePositives.Count;
        var precision = new double[n];
        var recall = new double[n];
        var tp = 0;
        for (var i = 0; i < n; i++)
        {
            if (rankedTruePositives[i]) tp++;
            precision[i] = (double)tp / (i + 1);
            recall[i] = (double)tp / truthCount;
        }
        for (var i = n - 2; i >= 0; i--) precision[i] = Math.Max(precision[i], precision[i + 1]); // the envelope
        double ap = 0, previousRecall = 0;
        for (var i = 0; i < n; i++)
        {
            ap += (recall[i] - previousRecall) * precision[i];
            previousRecall = recall[i];
        }
        return ap;
    }

    /// <summary>mAP@<paramref name="iou"/> of per-scene detections against per-scene truth, over the classes 0…<paramref name="classes"/>−1 present in the truth.</summary>
    public static double MeanAveragePrecision(IReadOnlyList<IReadOnlyList<LabelledBox>> detections, IReadOnlyList<IReadOnlyList<LabelledBox>> truth, int classes,
        double iou = 0.5)
    {
        if (detections.Count != truth.Count) throw new ArgumentException("one list of detections per scene", nameof(detections));
        double sum = 0;
        var counted = 0;
        for (var c = 0; c < classes; c++)
        {
            var truthCount = truth.Sum(t => t.Count(b => b.Class == c));
            if (truthCount == 0) continue;
            var ranked = detections.SelectMany((d, scene) => d.Where(b => b.Class == c).Select(b => (Scene: scene, Det: b)))
                .OrderByDescending(x => x.Det.Score).ToList(); // stable: ties keep scene order
            var taken = truth.Select(t => new bool[t.Count]).ToArray();
            var hits = new List<bool>(ranked.Count);
            foreach (var (scene, det) in ranked)
            {
                var (match, top) = (-1, 0.0);
                for (var g = 0; g < truth[scene].Count; g++)
                {
                    if (truth[scene][g].Class != c) continue;
                    var o = Box.IoU(det.Box, truth[scene][g].Box);
                    if (o > top) (top, match) = (o, g);
                }
                var hit = match >= 0 && top >= iou && !taken[scene][match];
                if (hit) taken[scene][match] = true;
                hits.Add(hit);
            }
            sum += AveragePrecision(hits, truthCount);
            counted++;
        }
        return counted == 0 ? 0 : sum / counted;
    }
}
