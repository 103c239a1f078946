using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Proxy;

/// <summary>What a proxy trains a candidate to do, and so its data, loss and score.</summary>
public enum ProxyTask
{
    /// <summary>Image classification: accuracy on the dataset's validation split.</summary>
    Classification,

    /// <summary>Semantic segmentation of scenes built from the dataset's images: mean IoU on the validation scenes.</summary>
    Segmentation,

    /// <summary>Object detection (an SSD head) on the same scenes: mAP at IoU 0.5 on the validation scenes.</summary>
    Detection,

    /// <summary>Text classification (the NLP proxy: WordNet glosses into supersenses): accuracy on the validation split.</summary>
    Text,
}

/// <summary>Names of the proxy tasks and which one a network is.</summary>
public static class ProxyTasks
{
    public static string Name(ProxyTask task) => task switch
    {
        ProxyTask.Segmentation => "segmentation",
        ProxyTask.Detection => "detection",
        ProxyTask.Text => "nlp",
        _ => "classification",
    };

    /// <summary>Whether the task trains on scenes built from the dataset's images (segmentation, detection).</summary>
    public static bool UsesScenes(ProxyTask task) => task is ProxyTask.Segmentation or ProxyTask.Detection;

    /// <summary>What the task's score measures.</summary>
    public static string Metric(ProxyTask task) => task switch
    {
        ProxyTask.Segmentation => "mIoU",
        ProxyTask.Detection => "mAP@0.5",
        _ => "accuracy",
    };

    /// <exception cref="NasInputException">Not a task a proxy trains.</exception>
    public static ProxyTask Parse(string? name) => name switch
    {
        null or "classification" => ProxyTask.Classification,
        "segmentation" => ProxyTask.Segmentation,
        "detection" => ProxyTask.Detection,
        "nlp" => ProxyTask.Text,
        _ => throw new NasInputException($"no proxy trains the task '{name}' (known: classification, segmentation, detection, nlp)"),
    };

    /// <summary>
    /// The task of a network, from its shape: one image input and one output that is 1×1×classes is a classifier;
    /// one output at the input's resolution (per-pixel logits) is a segmenter; two outputs of an SSD head
    /// (boxes and class logits per anchor) are a detector; token inputs and one dense output over the sequence (or, once
    /// scaled, a 1×1×classes output) are a text encoder.
    /// </summary>
    /// <exception cref="NasInputException">None of these.</exception>
    public static ProxyTask Of(Network network)
    {
        var inputs = network.Layers.Where(l => l.Op is InputOp).Select(l => (InputOp)l.Op).ToList();
        if (inputs.Count > 0 && inputs.All(i => i.Kind == InputKind.Tokens))
        {
            if (network.Outputs.Length != 1 || network.Layers[network.IndexOf(network.Outputs[0])].Op is not DenseOp)
                throw new NasInputException($"'{network.Name}' is a text network without one dense output: the NLP proxy trains encoders with a dense head");
            return ProxyTask.Text;
        }
        if (inputs.Count != 1 || inputs[0].Kind != InputKind.Image)
            throw new NasInputException($"'{network.Name}' is neither an image network nor a text encoder: no proxy trains it (the proxies train image classifiers, segmenters, SSD detectors and text encoders)");
        if (network.Outputs is [SsdHead.PackedOutput]) return ProxyTask.Detection; // a detector's proxy
        if (network.Outputs.Length == 2)
        {
            SsdHead.Of(network); // an SSD head, or the reason it is not one
            return ProxyTask.Detection;
        }
        if (network.Outputs.Length != 1)
            throw new NasInputException($"'{network.Name}' has {network.Outputs.Length} outputs: no proxy trains it (the proxies train image classifiers, segmenters and SSD detectors)");
        var output = network.ShapeOf(network.Outputs[0]);
        if (output is { Height: 1, Width: 1 }) return ProxyTask.Classification;
        if ((output.Height, output.Width) == (inputs[0].Shape.Height, inputs[0].Shape.Width)) return ProxyTask.Segmentation;
        throw new NasInputException($"'{network.Name}' is neither a classifier (1×1×classes output) nor a segmenter (output at the input's " +
                                    $"{inputs[0].Shape.Height}×{inputs[0].Shape.Width}): its output is {output.Height}×{output.Width}×{output.Channels}");
    }
}
