namespace NasCluster.TrainerNode.Training;

/// <summary>
/// The segmentation proxy's score from a confusion matrix counted over every pixel of the validation scenes
/// (dataset-level, as in PASCAL VOC and Cityscapes, not a mean of per-image scores): per class IoU =
/// TP / (TP + FP + FN); mIoU is their mean over the classes that occur in the truth or the prediction.
/// </summary>
public static class SegmentationMetrics
{
    /// <summary>Mean IoU of <paramref name="confusion"/>[truth, predicted]; 0 for an empty matrix.</summary>
    public static double MeanIoU(long[,] confusion)
    {
        var classes = confusion.GetLength(0);
        if (confusion.GetLength(1) != classes) throw new ArgumentException("the confusion matrix must be square", nameof(confusion));
        double sum = 0;
        var counted = 0;
        for (var c = 0; c < classes; c++)
        {
            long truth = 0, predicted = 0;
            for (var k = 0; k < classes; k++)
            {
                truth += confusion[c, k];
                predicted += confusion[k, c];
            }
            var union = truth + predicted - confusion[c, c];
            if (union == 0) continue; // neither present nor predicted: says nothing about the model
            sum += (double)confusion[c, c] / union;
            counted++;
        }
        return counted == 0 ? 0 : sum / counted;
    }

    /// <summary>The fraction of pixels labelled correctly.</summary>
    public static double PixelAccuracy(long[,] confusion)
    {
        long correct = 0, total = 0;
        for (var t = 0; t < confusion.GetLength(0); t++)
            for (var p = 0; p < confusion.GetLength(1); p++)
            {
                total += confusion[t, p];
                if (t == p) correct += confusion[t, p];
            }
        return total == 0 ? 0 : (double)correct / total;
    }
}
