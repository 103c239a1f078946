using NasCluster.Shared.Architecture;
using NasCluster.Shared.Blocks;

namespace NasCluster.Shared.SearchSpace;

/// <summary>Turns a space's template plus one candidate's values into a network.</summary>
internal static class NetworkAssembler
{
    public static Network Build(SpaceTemplate t, IReadOnlyList<ChoiceValue> v, string name)
    {
        var b = new NetworkBuilder(name);
        if (t.Head is EncoderTemplate encoder) return BuildNlp(b, encoder, v);

        var input = b.Input(t.Resolution, t.Resolution, t.InputChannels);
        var stem = t.Stem!;
        var x = b.Conv(input, stem.Filters.Get(v), stem.Kernel.Int(v), stem.Stride.Int(v), name: "stem");
        var levels = new FeatureLevels();
        levels.Record(x, t.Resolution);
        var outputs = new List<Tensor>();
        foreach (var stage in t.Stages)
        {
            if (stage.Level is { } levelSlot)
            {
                // Detection head block: MnasFPN-style merge of two earlier blocks at a target level.
                var level = levelSlot.Int(v);
                var size = SizeAtLevel(t.Resolution, level);
                using (b.Scope(stage.Name))
                    x = MnasFpn.Merge(b, outputs[stage.Inputs[0].Int(v)], outputs[stage.Inputs[1].Int(v)], size, size, stage.Filters.Get(v));
                x = BuildBlocks(b, x, stage, v, firstStride: 1);
            }
            else
            {
                x = BuildBlocks(b, x, stage, v, stage.Stride.Int(v), levels, t.Resolution);
            }
            outputs.Add(x);
        }

        switch (t.Head)
        {
            case ClassificationHeadTemplate c:
                return b.Build(ClassificationHead.Build(b, x, c.Classes, c.TopFilters?.Int(v)));
            case BiFpnHeadTemplate s:
            {
                var spec = new BiFpnSpec(s.MinLevel.Int(v), Math.Max(s.MinLevel.Int(v), s.MaxLevel.Int(v)), s.Channels.Int(v), s.Repeats.Int(v));
                var pyramid = BiFpn.Build(b, levels, spec);
                return b.Build(BiFpn.SegmentationHead(b, pyramid, spec.MinLevel, s.Classes, s.HeadChannels.Int(v), t.Resolution, t.Resolution));
            }
            case SsdHeadTemplate ssd:
            {
                var (boxes, classes) = SsdHead.Build(b, ssd.OutputStages.Select(i => outputs[i]).ToList(), ssd.Anchors, ssd.Classes);
                return b.Build(boxes, classes);
            }
            default:
                throw new InvalidOperationException($"unknown head {t.Head.GetType().Name}");
        }
    }

    /// <summary>Spatial size after <paramref name="level"/> stride-2 steps with same padding.</summary>
    internal static int SizeAtLevel(int resolution, int level)
    {
        var s = resolution;
        for (var i = 0; i < level; i++) s = (s + 1) / 2;
        return s;
    }

    private static Tensor BuildBlocks(NetworkBuilder b, Tensor x, StageTemplate stage, IReadOnlyList<ChoiceValue> v, int firstStride,
        FeatureLevels? levels = null, int resolution = 0)
    {
        var filters = stage.Filters.Get(v);
        var repeats = stage.Repeats.Int(v);
        for (var i = 0; i < repeats; i++)
        {
            var block = stage.Block(i);
            var type = block.Type.Text(v);
            var stride = i == 0 ? firstStride : 1;
            var name = $"{stage.Name}/b{i}";
            var kernel = block.Kernel.Int(v);
            switch (type)
            {
                case "skip":
                    continue;
                case "sep":
                    using (b.Scope(name))
                    {
                        var h = b.Depthwise(x, kernel, stride);
                        x = b.Conv(h, filters, 1, name: "pointwise");
                    }
                    break;
                default:
                    var kind = type switch
                    {
                        "dw" => IbnKind.Depthwise,
                        "fused" => IbnKind.Fused,
                        "gc" => IbnKind.GroupConv,
                        _ => IbnKind.GeneralizedGroupConv,
                    };
                    x = Ibn.Build(b, x, new IbnSpec(kind, filters, kernel, stride, block.Expansion.Int(v), block.GroupSize.Int(v),
                        block.PointwiseExpansion.Int(v)), name);
                    break;
            }
            levels?.Record(x, resolution);
        }
        return x;
    }

    private static Network BuildNlp(NetworkBuilder b, EncoderTemplate e, IReadOnlyList<ChoiceValue> v)
    {
        var hidden = e.Hidden.Int(v);
        var x = Transformer.Embeddings(b, e.SequenceLength, e.Vocabulary, e.EmbeddingDim, hidden);
        var layers = e.Layers.Int(v);
        for (var i = 0; i < layers; i++)
        {
            var l = e.Layer(i);
            var spec = new TransformerSpec(hidden, l.Bottleneck.Int(v), l.Heads.Int(v), l.FfnCount.Int(v), l.FfnSize.Int(v));
            x = Transformer.Block(b, x, spec, $"layer{i}");
        }
        return b.Build(b.Dense(x, e.Outputs, name: "logits"));
    }
}
