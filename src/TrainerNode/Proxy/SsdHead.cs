using System.Collections.Immutable;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using NasCluster.TrainerNode.Detection;

namespace NasCluster.TrainerNode.Proxy;

/// <summary>
/// An SSD-style head as the IR spells it (the detection space's and SSDLite's): per level a box predictor
/// (a conv of anchors × 4 outputs) and a class predictor (anchors × classes), each flattened, concatenated
/// over the levels and reshaped to [anchors, 4] and [anchors, classes]. Read from the network's outputs
/// back to the predictors, so the proxy can rescale exactly those layers and the trainer can lay its
/// anchors out as the head orders them.
/// </summary>
/// <param name="Boxes">The [1, anchors, 4] output.</param>
/// <param name="ClassLogits">The [1, anchors, classes] output.</param>
/// <param name="Classes">Classes the head predicts (with the background).</param>
/// <param name="BoxPredictors">The box predictor convs, in level order.</param>
/// <param name="ClassPredictors">The class predictor convs, in level order.</param>
/// <param name="Flattens">The reshapes between predictors and the concatenations.</param>
public sealed record SsdHead(string Boxes, string ClassLogits, int Classes, ImmutableArray<string> BoxPredictors, ImmutableArray<string> ClassPredictors,
    ImmutableHashSet<string> Flattens)
{
    /// <summary>The proxy's single output: every anchor's four box offsets, then its class logits.</summary>
    public const string PackedOutput = "proxy/detections";

    /// <summary>The head of a detector with two outputs (boxes, class logits), or of its proxy with the packed output.</summary>
    /// <exception cref="NasInputException">Not an SSD-style head.</exception>
    public static SsdHead Of(Network network)
    {
        string[] outputs = network.Outputs is [PackedOutput] ? [.. network.Layers[network.IndexOf(PackedOutput)].Inputs] : [.. network.Outputs];
        if (outputs.Length != 2) throw new NasInputException($"'{network.Name}': an SSD head has two outputs, boxes and class logits (it has {outputs.Length})");
        var shapes = outputs.Select(network.ShapeOf).ToArray();
        var boxAt = shapes[0].Channels == 4 ? 0 : shapes[1].Channels == 4 ? 1 : -1;
        if (boxAt < 0 || shapes.Any(s => s.Height != 1) || shapes[0].Width != shapes[1].Width)
            throw new NasInputException($"'{network.Name}': its outputs are {shapes[0]} and {shapes[1]}, not [1, anchors, 4] boxes and [1, anchors, classes] logits");
        var (boxes, classes) = (outputs[boxAt], outputs[1 - boxAt]);
        var flattens = new HashSet<string>(StringComparer.Ordinal);
        var boxPredictors = Predictors(network, boxes, flattens);
        var classPredictors = Predictors(network, classes, flattens);
        if (boxPredictors.Count != classPredictors.Count)
            throw new NasInputException($"'{network.Name}': {boxPredictors.Count} box predictors but {classPredictors.Count} class predictors");
        return new SsdHead(boxes, classes, shapes[1 - boxAt].Channels, [.. boxPredictors], [.. classPredictors], [.. flattens]);
    }

    /// <summary>The convs behind an output, through reshapes and concatenations, in concatenation order.</summary>
    private static List<string> Predictors(Network network, string output, HashSet<string> flattens)
    {
        var found = new List<string>();
        void Walk(string name, bool top)
        {
            var layer = network.Layers[network.IndexOf(name)];
            switch (layer.Op)
            {
                case Conv2DOp when !top:
                    found.Add(name);
                    return;
                case ReshapeOp r:
                    if (!top)
                    {
                        if (r.Shape is not { Height: 1, Width: 1 })
                            throw new NasInputException($"'{network.Name}': reshape '{name}' in the SSD head is not a flatten ({r.Shape})");
                        flattens.Add(name);
                    }
                    Walk(layer.Inputs[0], false);
                    return;
                case ConcatOp:
                    foreach (var input in layer.Inputs) Walk(input, false);
                    return;
                default:
                    throw new NasInputException($"'{network.Name}': layer '{name}' ({OpNames.Of(layer.Op)}) is not part of an SSD head (predictor convs, flattens, concatenation)");
            }
        }
        Walk(output, true);
        return found;
    }

    /// <summary>The new target of one of the head's reshapes, given its input's element count at proxy scale.</summary>
    public TensorShape Reshaped(string layer, long elements, int classes)
    {
        if (layer == Boxes) return new TensorShape(1, checked((int)(elements / 4)), 4);
        if (layer == ClassLogits) return new TensorShape(1, checked((int)(elements / classes)), classes);
        if (Flattens.Contains(layer)) return new TensorShape(1, 1, checked((int)elements));
        throw new NasInputException($"reshape '{layer}' is outside the SSD head; the detection proxy cannot rescale it");
    }

    /// <summary>The levels of a proxy's head (map and anchors per cell, in the head's order), checked against its class predictors.</summary>
    public static IReadOnlyList<HeadLevel> Levels(Network proxy)
    {
        var head = Of(proxy);
        var levels = new List<HeadLevel>();
        for (var l = 0; l < head.BoxPredictors.Length; l++)
        {
            var box = proxy.ShapeOf(head.BoxPredictors[l]);
            var cls = proxy.ShapeOf(head.ClassPredictors[l]);
            if (box.Channels % 4 != 0 || (box.Height, box.Width) != (cls.Height, cls.Width) || cls.Channels != box.Channels / 4 * head.Classes)
                throw new NasInputException($"'{proxy.Name}': head level {l}: box predictor {box} and class predictor {cls} do not describe the same anchors");
            levels.Add(new HeadLevel(box.Height, box.Width, box.Channels / 4));
        }
        var anchors = levels.Sum(l => l.Height * l.Width * l.Anchors);
        if (anchors != proxy.ShapeOf(head.Boxes).Width) throw new NasInputException($"'{proxy.Name}': the head's levels hold {anchors} anchors, its boxes output {proxy.ShapeOf(head.Boxes).Width}");
        return levels;
    }
}
