using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Proxy;

/// <summary>How a candidate is shrunk into its trainable proxy.</summary>
/// <remarks>For text, <see cref="Resolution"/> is the sequence length, <see cref="Vocabulary"/> the token table's size and one
/// encoder layer in <see cref="KeepEveryLayer"/> is kept.</remarks>
public sealed record ProxySpec(double WidthMultiplier = 0.25, int Resolution = 32, int MinFeatureMap = 2, int Classes = 10, int MinChannels = 2, int InputChannels = 1,
    ProxyTask Task = ProxyTask.Classification, int Vocabulary = 4096, int KeepEveryLayer = 6)
{
    public static ProxySpec Default { get; } = new();

    // The text for image tasks is what it was before the text fields existed: benchmark runs files key their runs by it.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("WidthMultiplier = ").Append(WidthMultiplier).Append(", Resolution = ").Append(Resolution).Append(", MinFeatureMap = ").Append(MinFeatureMap)
            .Append(", Classes = ").Append(Classes).Append(", MinChannels = ").Append(MinChannels).Append(", InputChannels = ").Append(InputChannels)
            .Append(", Task = ").Append(Task);
        if (Task == ProxyTask.Text) builder.Append(", Vocabulary = ").Append(Vocabulary).Append(", KeepEveryLayer = ").Append(KeepEveryLayer);
        return true;
    }
}

/// <summary>
/// Turns a candidate network into its proxy instance: the same IR — same layers, kernels, groups
/// structure, residuals — scaled down so thousands can be trained on a CPU:
/// <list type="bullet">
/// <item>the input becomes 32×32 with the dataset's channels (1 for Fashion-MNIST, padded from 28×28; 1 or 3 for a user's own);</item>
/// <item>every channel count c becomes max(2, round(c·w)) (w = 0.25 by default), applied per original
/// count so tensors that must match (residual adds) still match;</item>
/// <item>depthwise convs stay depthwise; other group convs keep their group count when the scaled widths
/// allow it (always, for the built-in spaces at w = 1/4), else the largest divisor of it that does;</item>
/// <item>a stride (conv or pooling) that would shrink the feature map below 2×2 becomes 1 with same
/// padding, so the last feature map stays at least 2×2;</item>
/// <item>the classifier's output layer predicts the dataset's classes (10 for Fashion-MNIST);</item>
/// <item>segmentation: the input becomes the scene canvas (64×64×1), every resize's target scales with the
/// input (at least the 2×2 floor, so a resize still meets the map it is fused with), and the per-pixel
/// logits layer predicts the scene's classes (background and the dataset's).</item>
/// <item>detection: the input becomes the scene canvas, resizes scale as for segmentation, the SSD head's
/// box predictors keep their anchors × 4 outputs and its class predictors predict anchors × the scene's
/// classes, its reshapes follow, and the boxes and class logits are packed into one output (<see cref="SsdHead"/>).</item>
/// <item>text (<see cref="ScaleText"/>): the sequence shortens, the vocabulary becomes the corpus's, widths scale as
/// above, one encoder layer in six is kept, and the span head becomes mean pooling and a classifier.</item>
/// </list>
/// Image classifiers, segmenters, SSD detectors and text encoders have a proxy; other networks are rejected with a clear message.
/// </summary>
public static class ProxyScaling
{
    public static Network Scale(Network network, ProxySpec? spec = null)
    {
        spec ??= ProxySpec.Default;
        if (spec.WidthMultiplier <= 0 || spec.WidthMultiplier > 4) throw new NasInputException($"width multiplier must be in (0, 4] (got {spec.WidthMultiplier})");
        if (spec.Task == ProxyTask.Text || network.Layers.Any(l => l.Op is InputOp { Kind: InputKind.Tokens })) return ScaleText(network, spec);
        var inputs = network.Layers.Where(l => l.Op is InputOp).ToList();
        if (inputs.Count != 1 || ((InputOp)inputs[0].Op).Kind != InputKind.Image)
            throw new NasInputException($"'{network.Name}' is not an image network (the image proxies train one image input)");
        var task = ProxyTasks.Of(network);
        if (task != spec.Task)
            throw new NasInputException($"'{network.Name}' is a {ProxyTasks.Name(task)} network; this proxy trains {ProxyTasks.Name(spec.Task)}");
        var unsupported = network.Layers.FirstOrDefault(l => l.Op is MatMulOp or EmbeddingOp or SoftmaxOp
            || (l.Op is ReshapeOp && task != ProxyTask.Detection) || (l.Op is ResizeOp && task == ProxyTask.Classification));
        if (unsupported is not null)
            throw new NasInputException($"'{network.Name}' uses {OpNames.Of(unsupported.Op)} (layer '{unsupported.Name}'), which the {ProxyTasks.Name(task)} proxy does not train");
        var ratio = (double)spec.Resolution / ((InputOp)inputs[0].Op).Shape.Height;

        var head = task == ProxyTask.Detection ? SsdHead.Of(network) : null;
        var classifier = head is null ? ClassifierLayer(network) : null;
        int C(int c) => Math.Max(spec.MinChannels, (int)Math.Round(c * spec.WidthMultiplier, MidpointRounding.AwayFromZero));
        var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
        var layers = new List<Layer>(network.Layers.Length);
        for (var i = 0; i < network.Layers.Length; i++)
        {
            var layer = network.Layers[i];
            var original = network.Infos[i];
            var ins = layer.Inputs.Select(n => shapes[n]).ToArray();
            Op op = layer.Op switch
            {
                InputOp => new InputOp(new TensorShape(spec.Resolution, spec.Resolution, spec.InputChannels)),
                Conv2DOp c => ScaleConv(c, original, ins[0], layer.Name == classifier ? spec.Classes
                    : head is not null && head.BoxPredictors.Contains(layer.Name) ? c.Filters // anchors × 4, whatever the width
                    : head is not null && head.ClassPredictors.Contains(layer.Name) ? c.Filters / head.Classes * spec.Classes // anchors × the scene's classes
                    : C(c.Filters), spec),
                ReshapeOp when head is not null => new ReshapeOp(head.Reshaped(layer.Name, ins[0].Elements, spec.Classes)),
                DenseOp d => d with { Units = layer.Name == classifier ? spec.Classes : C(d.Units) },
                PoolOp p => CapStride(p, ins[0], spec),
                ResizeOp r => r with
                {
                    Height = Math.Max(spec.MinFeatureMap, (int)Math.Round(r.Height * ratio)),
                    Width = Math.Max(spec.MinFeatureMap, (int)Math.Round(r.Width * ratio)),
                },
                _ => layer.Op,
            };
            var scaled = layer with { Op = op };
            shapes[layer.Name] = LayerSemantics.Analyze(scaled, ins).OutputShape;
            layers.Add(scaled);
        }
        var outputs = network.Outputs;
        if (head is not null)
        {
            // The trainer builds single-output modules: the boxes and class logits of every anchor, side by side.
            layers.Add(new Layer(SsdHead.PackedOutput, new ConcatOp(), head.Boxes, head.ClassLogits));
            outputs = [SsdHead.PackedOutput];
        }
        var proxy = new Network($"{network.Name}@proxy", layers, outputs);
        if (task == ProxyTask.Segmentation && proxy.ShapeOf(proxy.Outputs[0]) is var o && (o.Height, o.Width) != (spec.Resolution, spec.Resolution))
            throw new NasInputException($"'{network.Name}': its per-pixel output would be {o.Height}×{o.Width} at proxy scale, not the {spec.Resolution}×{spec.Resolution} scene");
        return proxy;
    }

    private static Conv2DOp ScaleConv(Conv2DOp c, LayerInfo original, TensorShape input, int filters, ProxySpec spec)
    {
        var originalIn = original.InputShapes[0].Channels;
        var depthwise = c.Groups > 1 && c.Groups == originalIn && c.Groups == c.Filters;
        int groups;
        if (depthwise)
        {
            groups = input.Channels;
            filters = input.Channels;
        }
        else
        {
            groups = c.Groups;
            while (groups > 1 && (input.Channels % groups != 0 || filters % groups != 0)) groups--;
            while (groups > 1 && c.Groups % groups != 0) groups--;
        }
        var stride = c.Stride;
        var padding = c.Padding;
        if (stride > 1 && LayerSemantics.OutputSize(input.Height, c.KernelH, stride, c.Dilation, padding) < spec.MinFeatureMap)
            (stride, padding) = (1, Padding.Same);
        return c with { Filters = filters, Groups = groups, Stride = stride, Padding = padding };
    }

    private static PoolOp CapStride(PoolOp p, TensorShape input, ProxySpec spec) =>
        p.Stride > 1 && LayerSemantics.OutputSize(input.Height, p.Kernel, p.Stride, 1, p.Padding) < spec.MinFeatureMap
            ? p with { Stride = 1, Padding = Padding.Same }
            : p;

    /// <summary>The conv or dense layer producing the logits (through global pooling, flatten or activations).</summary>
    private static string ClassifierLayer(Network network)
    {
        var name = network.Outputs[0];
        while (true)
        {
            var layer = network.Layers[network.IndexOf(name)];
            if (layer.Op is Conv2DOp or DenseOp) return name;
            if (layer.Inputs.Length != 1)
                throw new NasInputException($"'{network.Name}': cannot find the classifier layer behind output '{network.Outputs[0]}'");
            name = layer.Inputs[0];
        }
    }

    /// <summary>
    /// A text encoder's proxy: the token inputs take <see cref="ProxySpec.Resolution"/> tokens; the word table has
    /// <see cref="ProxySpec.Vocabulary"/> rows and the position table one per position; every width (embedding,
    /// hidden, bottleneck, feed-forward) scales like an image network's channels, heads stay (so each head is
    /// narrower); of the encoder layers <c>layer0, layer1, …</c> those with an index divisible by
    /// <see cref="ProxySpec.KeepEveryLayer"/> are kept (12, 18, 24 layers → 2, 3, 4, each with its own choices), the
    /// others become identities; the output dense layer (a span head predicting per token) reads the mean over the
    /// sequence and predicts the corpus's classes.
    /// </summary>
    /// <exception cref="NasInputException">Not a text encoder of that shape.</exception>
    public static Network ScaleText(Network network, ProxySpec spec)
    {
        if (ProxyTasks.Of(network) != ProxyTask.Text)
            throw new NasInputException($"'{network.Name}' is a {ProxyTasks.Name(ProxyTasks.Of(network))} network; this proxy trains nlp");
        if (spec.Task != ProxyTask.Text)
            throw new NasInputException($"'{network.Name}' is an nlp network; this proxy trains {ProxyTasks.Name(spec.Task)}");
        if (spec.KeepEveryLayer < 1) throw new NasInputException($"keep-every-layer must be at least 1 (got {spec.KeepEveryLayer})");
        var unsupported = network.Layers.FirstOrDefault(l => l.Op is ReshapeOp or ResizeOp or PoolOp or HostOp or FlattenOp or GlobalPoolOp);
        if (unsupported is not null)
            throw new NasInputException($"'{network.Name}' uses {OpNames.Of(unsupported.Op)} (layer '{unsupported.Name}'), which the nlp proxy does not train");
        int C(int c) => Math.Max(spec.MinChannels, (int)Math.Round(c * spec.WidthMultiplier, MidpointRounding.AwayFromZero));

        // Dropped encoder layers: each one's layers stand for the one tensor that enters it.
        var alias = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var block in network.Layers.Select(l => (Layer: l, Index: EncoderLayer(l.Name))).Where(p => p.Index is { } i && i % spec.KeepEveryLayer != 0)
                     .GroupBy(p => p.Index))
        {
            var names = block.Select(p => p.Layer.Name).ToHashSet(StringComparer.Ordinal);
            var entering = block.SelectMany(p => p.Layer.Inputs).Where(n => !names.Contains(n)).Distinct().ToList();
            if (entering.Count != 1)
                throw new NasInputException($"'{network.Name}': encoder layer {block.Key} has {entering.Count} inputs; the nlp proxy drops only layers with one");
            var source = Resolve(alias, entering[0]);
            foreach (var n in names) alias[n] = source;
        }

        var output = network.Outputs[0];
        var shapes = new Dictionary<string, TensorShape>(StringComparer.Ordinal);
        var layers = new List<Layer>(network.Layers.Length);
        void Add(Layer layer)
        {
            shapes[layer.Name] = LayerSemantics.Analyze(layer, layer.Inputs.Select(n => shapes[n]).ToArray()).OutputShape;
            layers.Add(layer);
        }
        foreach (var layer in network.Layers)
        {
            if (alias.ContainsKey(layer.Name)) continue;
            var inputs = layer.Inputs.Select(n => Resolve(alias, n)).ToArray();
            if (layer.Name == output)
            {
                var pooled = $"{layer.Name}/proxy_pool";
                Add(new Layer(pooled, new GlobalPoolOp(), inputs));
                Add(new Layer(layer.Name, ((DenseOp)layer.Op) with { Units = spec.Classes }, pooled));
                continue;
            }
            Op op = layer.Op switch
            {
                InputOp i => i with { Shape = new TensorShape(1, spec.Resolution, 1) },
                EmbeddingOp e => e with
                {
                    Vocabulary = inputs[0].EndsWith("token_ids", StringComparison.Ordinal) ? spec.Vocabulary
                        : inputs[0].EndsWith("position_ids", StringComparison.Ordinal) ? spec.Resolution
                        : e.Vocabulary,
                    Dim = C(e.Dim),
                },
                Conv2DOp c when c.Groups == 1 && c.Stride == 1 => c with { Filters = C(c.Filters) },
                DenseOp d => d with { Units = C(d.Units) },
                MatMulOp or SoftmaxOp or LayerNormOp or AddOp or ActivationOp or ConcatOp or MultiplyOp => layer.Op,
                _ => throw new NasInputException($"'{network.Name}' uses {OpNames.Of(layer.Op)} (layer '{layer.Name}'), which the nlp proxy does not train"),
            };
            Add(new Layer(layer.Name, op, inputs));
        }
        return new Network($"{network.Name}@proxy", layers, [output]);
    }

    /// <summary>The encoder layer a layer belongs to (its name starts "layer<c>i</c>/"), or null.</summary>
    private static int? EncoderLayer(string name)
    {
        if (!name.StartsWith("layer", StringComparison.Ordinal)) return null;
        var slash = name.IndexOf('/');
        return slash > 5 && int.TryParse(name.AsSpan(5, slash - 5), out var i) ? i : null;
    }

    private static string Resolve(Dictionary<string, string> alias, string name) => alias.TryGetValue(name, out var to) ? to : name;
}
