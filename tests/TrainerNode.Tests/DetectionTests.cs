using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Detection;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using NasCluster.TrainerNode.Training;

namespace NasCluster.TrainerNode.Tests;

/// <summary>The detection proxy's geometry, matching and metrics against hand-worked cases.</summary>
public sealed class DetectionGeometryTests
{
    [Fact]
    public void Iou_and_the_box_coding_work_out_by_hand()
    {
        Assert.Equal(1.0 / 7, Box.IoU(new Box(0, 0, 2, 2), new Box(1, 1, 3, 3)), 12); // intersection 1, union 4 + 4 - 1
        Assert.Equal(0, Box.IoU(new Box(0, 0, 1, 1), new Box(1, 0, 2, 1)));
        var anchor = Box.FromCenter(0.5, 0.5, 0.2, 0.2);
        var box = Box.FromCenter(0.52, 0.5, 0.4, 0.2);
        var (dx, dy, dw, dh) = BoxCodec.Encode(box, anchor);
        Assert.Equal(1.0, dx, 5);  // 0.02 / 0.2 / 0.1
        Assert.Equal(0.0, dy, 5);
        Assert.Equal(Math.Log(2) / 0.2, dw, 5);
        Assert.Equal(0.0, dh, 5);
        var back = BoxCodec.Decode(dx, dy, dw, dh, anchor);
        Assert.Equal(box.X0, back.X0, 6);
        Assert.Equal(box.Y1, back.Y1, 6);
    }

    [Fact]
    public void Default_boxes_follow_ssd_scales_and_ratios_in_the_heads_order()
    {
        var anchors = SsdAnchors.Generate([new HeadLevel(2, 2, 3), new HeadLevel(1, 1, 6)]);
        Assert.Equal(2 * 2 * 3 + 6, anchors.Length);
        // Level 0 of 2: scale 0.2; the first cell is centred at (0.25, 0.25); ratios 1, 2, 1/2.
        Assert.Equal(Box.FromCenter(0.25, 0.25, 0.2, 0.2), anchors[0]);
        Assert.Equal(0.2 * Math.Sqrt(2), anchors[1].Width, 12);
        Assert.Equal(0.2 / Math.Sqrt(2), anchors[1].Height, 12);
        Assert.Equal(0.2 / Math.Sqrt(2), anchors[2].Width, 12);
        Assert.Equal((0.75, 0.25), (anchors[3].CenterX, anchors[3].CenterY)); // the next cell along the row
        // Level 1 of 2: scale 0.95; ratios 1, 2, 1/2, 3, 1/3, then √(0.95 · 1) at ratio 1.
        Assert.Equal(0.95, anchors[12].Width, 12);
        Assert.Equal(0.95 * Math.Sqrt(3), anchors[15].Width, 12);
        Assert.Equal(Math.Sqrt(0.95), anchors[17].Width, 12);
        Assert.Contains("1 to 6", Assert.Throws<NasInputException>(() => SsdAnchors.Generate([new HeadLevel(1, 1, 7)])).Message);
    }

    [Fact]
    public void Every_true_box_keeps_its_best_anchor_and_others_match_at_half_overlap()
    {
        Box[] anchors = [new(0, 0, 0.5, 0.5), new(0.5, 0, 1, 0.5), new(0, 0.5, 0.5, 1), new(0.25, 0.25, 0.75, 0.75)];
        var labels = new byte[4];
        var offsets = new float[16];
        // A box equal to anchor 0 (IoU 1), and a small one whose best anchor is 3 at only IoU 0.07: forced.
        AnchorMatching.Match(anchors, [new LabelledBox(3, new Box(0, 0, 0.5, 0.5)), new LabelledBox(1, new Box(0.6, 0.6, 0.9, 0.9))], labels, offsets);
        Assert.Equal([4, 0, 0, 2], labels);
        Assert.Equal([0f, 0, 0, 0], offsets[..4]); // the box is its anchor
        Assert.NotEqual(0f, offsets[12]);
        // Two boxes whose best anchor is the same: the later keeps it; nothing is background that should not be.
        AnchorMatching.Match(anchors, [new LabelledBox(5, new Box(0, 0, 0.45, 0.45)), new LabelledBox(6, new Box(0, 0, 0.4, 0.4))], labels, offsets);
        Assert.Equal([7, 0, 0, 0], labels);
        AnchorMatching.Match(anchors, [], labels, offsets);
        Assert.All(labels, l => Assert.Equal(0, l));
    }

    [Fact]
    public void Nms_keeps_the_best_of_overlapping_boxes()
    {
        var kept = DetectionMetrics.Nms([
            new LabelledBox(0, new Box(0.05, 0, 1.05, 1), 0.8),
            new LabelledBox(0, new Box(0, 0, 1, 1), 0.9),
            new LabelledBox(0, new Box(2, 2, 3, 3), 0.7)], 0.45);
        Assert.Equal([0.9, 0.7], kept.Select(k => k.Score));
    }

    [Fact]
    public void Average_precision_is_the_area_under_the_monotone_precision_recall_curve()
    {
        // TP, FP, TP of 3 true boxes: precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3; the envelope lifts 1/2 to 2/3.
        Assert.Equal(1.0 / 3 * 1 + 1.0 / 3 * (2.0 / 3), DetectionMetrics.AveragePrecision([true, false, true], 3), 12);
        Assert.Equal(1.0, DetectionMetrics.AveragePrecision([true, true], 2), 12);
        Assert.Equal(0.0, DetectionMetrics.AveragePrecision([false], 1));
    }

    [Fact]
    public void Map_counts_a_duplicate_as_false_and_ignores_classes_absent_from_the_truth()
    {
        var a = new Box(0, 0, 0.4, 0.4);
        var b = new Box(0.5, 0.5, 0.9, 0.9);
        IReadOnlyList<LabelledBox>[] truth = [[new LabelledBox(0, a)], [new LabelledBox(1, b)]];
        IReadOnlyList<LabelledBox>[] detections =
        [
            [new LabelledBox(0, a, 0.9), new LabelledBox(0, a, 0.8), new LabelledBox(2, a, 0.95)],
            [new LabelledBox(1, new Box(0, 0, 0.2, 0.2), 0.7), new LabelledBox(1, new Box(0.52, 0.5, 0.9, 0.9), 0.6)],
        ];
        // Class 0: TP then a duplicate (FP) → AP 1. Class 1: FP then TP → precision 1/2 at recall 1 → AP 1/2. Class 2 has no truth.
        Assert.Equal(0.75, DetectionMetrics.MeanAveragePrecision(detections, truth, classes: 3), 12);
    }

    [Fact]
    public void The_decoder_turns_logits_and_offsets_into_scored_boxes()
    {
        Box[] anchors = [Box.FromCenter(0.3, 0.3, 0.2, 0.2), Box.FromCenter(0.7, 0.7, 0.2, 0.2)];
        // Anchor 0: no offset, class 1 (index 2 after the background) likely; anchor 1: background.
        float[] outputs = [0, 0, 0, 0, 0, 0, 5, /* anchor 1 */ 0, 0, 0, 0, 5, 0, 0];
        var d = Assert.Single(SsdDecoder.Detections(outputs, anchors, classes: 3));
        Assert.Equal(1, d.Class);
        Assert.Equal(anchors[0].X0, d.Box.X0, 12);
        Assert.Equal(anchors[0].Y1, d.Box.Y1, 12);
        Assert.Equal(Math.Exp(5) / (Math.Exp(5) + 2), d.Score, 6);
    }
}

/// <summary>Detectors at proxy scale: the scene's input, the SSD head rescaled and packed, the IR's parameter count.</summary>
public sealed class DetectionScalingTests
{
    private static readonly ProxySpec Detection = ProxySpec.Default with { Task = ProxyTask.Detection, Resolution = 64, Classes = 11 };

    private static void AssertDetectionProxy(Network candidate)
    {
        Assert.Equal(ProxyTask.Detection, ProxyTasks.Of(candidate));
        var proxy = ProxyScaling.Scale(candidate, Detection);
        Assert.Equal(new TensorShape(64, 64, 1), ((InputOp)proxy.Layers[0].Op).Shape);
        var levels = SsdHead.Levels(proxy);
        var anchors = levels.Sum(l => l.Height * l.Width * l.Anchors);
        Assert.Equal(new TensorShape(1, anchors, 4 + 11), proxy.ShapeOf(SsdHead.PackedOutput));
        Assert.Equal(ProxyTask.Detection, ProxyTasks.Of(proxy));
        var head = SsdHead.Of(candidate);
        foreach (var (name, original) in head.BoxPredictors.Select(n => (n, (Conv2DOp)candidate.Layers[candidate.IndexOf(n)].Op)))
            Assert.Equal(original.Filters, ((Conv2DOp)proxy.Layers[proxy.IndexOf(name)].Op).Filters); // anchors × 4, not width-scaled
        using var module = new IrModule(proxy);
        Assert.Equal(proxy.Params, module.IrParameterCount);
        using var y = module.forward(TorchSharp.torch.zeros(2, 1, 64, 64));
        Assert.Equal([2L, 15, 1, anchors], y.shape);
    }

    [Fact]
    public void Sampled_spaghetti_candidates_and_ssdlite_scale_to_64x64_scenes_with_a_packed_ssd_head()
    {
        var space = BuiltInSpaces.Load("spaghetti-detection");
        var rng = new DeterministicRng(3);
        for (var i = 0; i < 6; i++) AssertDetectionProxy(space.Build(space.Sample(rng)));
        AssertDetectionProxy(ModelZoo.Build("ssdlite-mobilenet-v2"));
        var levels = SsdHead.Levels(ProxyScaling.Scale(space.Build(space.Sample(new DeterministicRng(1))), Detection));
        Assert.Equal([new HeadLevel(8, 8, 3), new HeadLevel(4, 4, 6), new HeadLevel(2, 2, 6), new HeadLevel(2, 2, 6), new HeadLevel(2, 2, 6)], levels);
    }

    [Fact]
    public void Detection_scenes_vary_item_sizes_within_the_recipes_range()
    {
        var data = FashionMnist.Load();
        var (train, _) = Scenes.For(data, SceneRecipe.Detection);
        var sides = train.Boxes.SelectMany(b => b).Select(b => Math.Max(b.X1 - b.X0, b.Y1 - b.Y0)).ToList();
        Assert.InRange(sides.Min(), 4, 16);
        Assert.InRange(sides.Max(), 20, 28);
        Assert.Equal(4, train.Boxes.Max(b => b.Count));
    }
}

/// <summary>Training the detection proxy for real (TorchSharp, scenes of Fashion-MNIST items of 14–28 pixels).</summary>
[Collection("torch")]
[Trait("Tier", "slow")]
public sealed class DetectionTrainingTests(TorchFixture fixture)
{
    /// <summary>A plain SSD: three stride-2 convs to an 8×8 level (3 anchors) and a 4×4 level (6 anchors), 91-class heads as the zoo's.</summary>
    private static Network PlainSsd()
    {
        var b = new NetworkBuilder("plain-ssd");
        var x = b.Input(64, 64, 1);
        x = b.Conv(x, 32, 3, stride: 2, name: "c1");
        x = b.Conv(x, 64, 3, stride: 2, name: "c2");
        x = b.Conv(x, 128, 3, stride: 2, name: "c3");
        var y = b.Conv(x, 128, 3, stride: 2, name: "c4");
        Tensor Predict(Tensor at, int filters, int cells, string name) =>
            b.Reshape(b.Conv(at, filters, 3, activation: ActivationKind.None, bias: true, batchNorm: false, name: name), new TensorShape(1, 1, cells * filters), name + "/flat");
        var boxes = b.Reshape(b.Concat("boxes_concat", Predict(x, 3 * 4, 64, "box0"), Predict(y, 6 * 4, 16, "box1")), new TensorShape(1, 192 + 96, 4), "boxes");
        var classes = b.Reshape(b.Concat("classes_concat", Predict(x, 3 * 91, 64, "class0"), Predict(y, 6 * 91, 16, "class1")), new TensorShape(1, 192 + 96, 91), "classes");
        return b.Build(boxes, classes);
    }

    [Fact]
    public void Matching_losses_decoding_and_map_together_teach_a_plain_ssd_to_find_and_name_the_items()
    {
        var environment = fixture.Environment with { Spec = ProxySpec.Default with { WidthMultiplier = 0.25 } };
        var r = ProxyTrainer.Run(PlainSsd(), TrainingConfig.For(ProxyTask.Detection) with { Steps = 150, Seed = 1 }, environment);
        Assert.True(r.Succeeded, r.FailureReason);
        Assert.Equal("mAP@0.5", r.Metric);
        Assert.True(r.Score > 0.2, $"mAP@0.5 {r.Score:0.000} after 150 steps"); // 0.45 measured at 200 steps; an untrained head scores ~0
    }

    [Fact]
    public void A_detection_space_candidate_trains_reproducibly_and_its_record_retrains_it_exactly()
    {
        var space = BuiltInSpaces.Load("spaghetti-detection");
        var candidate = space.Build(space.Sample(new DeterministicRng(1)));
        var config = TrainingConfig.For(ProxyTask.Detection) with { Steps = 20, Seed = 2 };
        var first = ProxyTrainer.Run(candidate, config, fixture.Environment);
        Assert.True(first.Succeeded, first.FailureReason);
        Assert.InRange(first.Score, 0, 1);
        // Reproducible, and what an experiment records retrains it exactly on a node with other defaults (one run shows both).
        var record = ProxyRecipes.Describe(fixture.Data, config, fixture.Environment, ProxyTask.Detection);
        Assert.Equal(("detection", 0.0, 0.01, 14, 28), (record.Task, record.DistillationWeight, record.LearningRate, record.Scenes!.MinItemSize, record.Scenes.MaxItemSize));
        var other = fixture.Environment with { Scenes = SceneRecipe.Default, Spec = ProxySpec.Default with { WidthMultiplier = 0.5 } };
        var again = ProxyTrainer.Run(candidate, new TrainingConfig { Steps = 20, Seed = 2 }, other, training: record);
        Assert.True(again.Succeeded, again.FailureReason);
        Assert.Equal((first.Score, first.Loss), (again.Score, again.Loss));
    }
}
