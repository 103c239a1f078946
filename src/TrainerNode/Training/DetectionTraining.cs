using NasCluster.Shared.Architecture;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Detection;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Tensor = TorchSharp.torch.Tensor;

namespace NasCluster.TrainerNode.Training;

/// <summary>
/// The detection proxy's training and scoring for one proxy network: its anchors (laid out as its SSD head
/// orders them), every scene's matched targets, SSD's loss (smooth-L1 on the matched anchors' offsets plus
/// cross-entropy on the matched anchors and the hardest background anchors, three per match), and mAP@0.5
/// of the decoded detections on the validation scenes.
/// </summary>
public sealed class DetectionTraining
{
    /// <summary>Background anchors kept per matched anchor by hard-negative mining.</summary>
    public const int NegativesPerPositive = 3;

    private static readonly Dictionary<(SceneSet, string), (Tensor Labels, Tensor Offsets)> Targets = new();

    private readonly Box[] _anchors;
    private readonly int _classes;
    private readonly (Tensor Labels, Tensor Offsets) _train;
    private readonly (Tensor Labels, Tensor Offsets) _validation;
    private readonly SceneSet _validationScenes;
    private readonly DatasetTensors _validationImages;

    /// <exception cref="NasCluster.Shared.Util.NasInputException">The proxy's head is not an SSD head the anchors can be laid out for.</exception>
    public DetectionTraining(Network proxy, SceneSet train, SceneSet validation)
    {
        var levels = SsdHead.Levels(proxy);
        _anchors = SsdAnchors.Generate(levels);
        _classes = SsdHead.Of(proxy).Classes;
        var layout = string.Join(";", levels);
        _train = TargetsOf(train, _anchors, layout);
        _validation = TargetsOf(validation, _anchors, layout);
        _validationScenes = validation;
        _validationImages = DatasetTensors.Of(validation);
    }

    public int Anchors => _anchors.Length;

    /// <summary>The matched targets of every scene for one anchor layout: labels [N, A] (int64), offsets [N, A, 4]; built once per scenes and layout.</summary>
    private static (Tensor Labels, Tensor Offsets) TargetsOf(SceneSet scenes, Box[] anchors, string layout)
    {
        lock (Targets)
        {
            if (Targets.TryGetValue((scenes, layout), out var built)) return built;
            var a = anchors.Length;
            var labels = new byte[scenes.Count * a];
            var offsets = new float[scenes.Count * a * 4];
            Parallel.For(0, scenes.Count, s =>
                AnchorMatching.Match(anchors, Truth(scenes, s), labels.AsSpan(s * a, a), offsets.AsSpan(s * a * 4, a * 4)));
            built = (torch.tensor(labels.Select(l => (long)l).ToArray(), [scenes.Count, a]).DetachFromDisposeScope(),
                torch.tensor(offsets, [scenes.Count, a, 4]).DetachFromDisposeScope());
            Targets[(scenes, layout)] = built;
            return built;
        }
    }

    /// <summary>A scene's true boxes in normalised coordinates.</summary>
    public static IReadOnlyList<LabelledBox> Truth(SceneSet scenes, int scene) =>
        scenes.Boxes[scene].Select(b => new LabelledBox(b.Class, new Box((double)b.X0 / scenes.Size, (double)b.Y0 / scenes.Size,
            (double)b.X1 / scenes.Size, (double)b.Y1 / scenes.Size))).ToList();

    /// <summary>SSD's loss of a batch (the module's packed output [B, 4 + C, 1, A]) against the targets at <paramref name="index"/> of the training scenes.</summary>
    public Tensor TrainingLoss(Tensor output, Tensor index) => Loss(output, _train.Labels.index_select(0, index), _train.Offsets.index_select(0, index));

    private Tensor Loss(Tensor output, Tensor labels, Tensor offsets)
    {
        var o = output.squeeze(2).permute(0, 2, 1); // [B, A, 4 + C]
        var (batch, anchors) = (o.shape[0], o.shape[1]);
        var location = o.narrow(2, 0, 4);
        var confidence = o.narrow(2, 4, _classes);
        var positive = labels.gt(0);
        var positives = positive.sum(1); // per scene
        var matched = Math.Max(1L, positives.sum().item<long>());
        var mask = positive.unsqueeze(2).expand_as(location);
        var box = F.smooth_l1_loss(location.masked_select(mask), offsets.masked_select(mask), reduction: nn.Reduction.Sum);
        var ce = F.cross_entropy(confidence.reshape(-1, _classes), labels.reshape(-1), reduction: nn.Reduction.None).view(batch, anchors);
        Tensor negative;
        using (torch.no_grad())
        {
            // Hard-negative mining: per scene, the background anchors with the highest loss, three per matched anchor.
            var background = ce.detach().masked_fill(positive, 0);
            var rank = background.argsort(1, descending: true).argsort(1);
            var keep = (positives * NegativesPerPositive).clamp_max(anchors - 1).unsqueeze(1);
            negative = rank.lt(keep).logical_and(positive.logical_not());
        }
        var classification = ce.masked_select(positive.logical_or(negative)).sum();
        return (box + classification) / matched;
    }

    /// <summary>mAP@0.5 on the validation scenes, and SSD's loss on them.</summary>
    public (double MeanAp, double Loss) Evaluate(IrModule module, int batch = 100)
    {
        module.eval();
        var detections = new List<IReadOnlyList<LabelledBox>>(_validationScenes.Count);
        var truth = Enumerable.Range(0, _validationScenes.Count).Select(s => Truth(_validationScenes, s)).ToList();
        double loss = 0;
        long matched = 0;
        var stride = 4 + _classes;
        using (torch.no_grad())
        {
            for (long start = 0; start < _validationScenes.Count; start += batch)
            {
                using var scope = torch.NewDisposeScope();
                var len = Math.Min(batch, _validationScenes.Count - start);
                var output = module.forward(_validationImages.Images.narrow(0, start, len));
                var labels = _validation.Labels.narrow(0, start, len);
                var batchMatched = Math.Max(1L, labels.gt(0).sum().item<long>());
                loss += Loss(output, labels, _validation.Offsets.narrow(0, start, len)).item<float>() * batchMatched;
                matched += batchMatched;
                var values = output.squeeze(2).permute(0, 2, 1).contiguous().data<float>().ToArray();
                for (var s = 0; s < len; s++)
                    detections.Add(SsdDecoder.Detections(values.AsSpan(s * _anchors.Length * stride, _anchors.Length * stride), _anchors, _classes));
            }
        }
        return (DetectionMetrics.MeanAveragePrecision(detections, truth, _classes - 1), loss / Math.Max(1, matched));
    }
}
