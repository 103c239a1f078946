using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using NasCluster.TrainerNode.Training;

namespace NasCluster.TrainerNode.Tests;

/// <summary>The scenes the segmentation proxy trains on: deterministic, labelled exactly where items are, validation from validation images only.</summary>
public sealed class ScenesTests
{
    /// <summary>Images of <paramref name="side"/>² pixels, each a filled square of <paramref name="value"/> inset by one pixel, labels cycling 0, 1, 2.</summary>
    private static ImageSet Squares(int count, byte value, int side = 8)
    {
        var pixels = new byte[count * side * side];
        for (var i = 0; i < count; i++)
            for (var r = 1; r < side - 1; r++)
                for (var c = 1; c < side - 1; c++)
                    pixels[i * side * side + r * side + c] = value;
        return new ImageSet(pixels, Enumerable.Range(0, count).Select(i => (byte)(i % 3)).ToArray(), count, side, side);
    }

    [Fact]
    public void Scenes_are_deterministic_and_every_labelled_pixel_is_an_item_inside_its_box()
    {
        var recipe = new SceneRecipe(Canvas: 32, MaxItems: 3, TrainScenes: 16, ValidationScenes: 8, Seed: 5);
        var a = Scenes.Build(Squares(9, 200), 200, recipe, recipe.Seed);
        var b = Scenes.Build(Squares(9, 200), 200, recipe, recipe.Seed);
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.Equal(a.Masks, b.Masks);
        Assert.NotEqual(a.Masks, Scenes.Build(Squares(9, 200), 200, recipe, recipe.Seed + 1).Masks);

        var counts = new int[4];
        for (var s = 0; s < a.Count; s++)
        {
            var boxes = a.Boxes[s];
            Assert.InRange(boxes.Count, 1, 3);
            counts[boxes.Count]++;
            foreach (var box in boxes)
            {
                Assert.Equal(6 * 6, box.Area); // the square's tight bounds, not the 8×8 image
                Assert.All(boxes.Where(o => o != box), o => Assert.True(SceneBox.IoU(box, o) <= recipe.MaxOverlap));
            }
            for (var y = 0; y < 32; y++)
                for (var x = 0; x < 32; x++)
                {
                    var at = s * 32 * 32 + y * 32 + x;
                    var inside = boxes.Where(bx => x >= bx.X0 && x < bx.X1 && y >= bx.Y0 && y < bx.Y1).ToList();
                    if (a.Masks[at] == 0)
                    {
                        Assert.Equal(0, a.Pixels[at]);
                        Assert.Empty(inside);
                    }
                    else
                    {
                        Assert.Equal(200, a.Pixels[at]);
                        Assert.Contains(inside, bx => bx.Class + 1 == a.Masks[at]); // the label is one of the items covering the pixel
                    }
                }
        }
        Assert.All(counts[1..], c => Assert.True(c > 0)); // one, two and three items all occur
    }

    [Fact]
    public void Training_scenes_use_training_images_and_validation_scenes_validation_images()
    {
        var data = new DatasetSplits(Squares(30, 100), Squares(12, 200), Squares(12, 50), "/data/squares", "feedc0de") { Classes = 3 };
        var recipe = new SceneRecipe(Canvas: 32, TrainScenes: 40, ValidationScenes: 20);
        var (train, validation) = Scenes.For(data, recipe);
        Assert.Equal((40, 20), (train.Count, validation.Count));
        Assert.All(train.Pixels, p => Assert.Contains(p, new byte[] { 0, 100 }));
        Assert.All(validation.Pixels, p => Assert.Contains(p, new byte[] { 0, 200 }));
        Assert.Equal((train.Mean, train.Std), (validation.Mean, validation.Std)); // normalised with the training scenes' statistics
        Assert.Same(train, Scenes.For(data, recipe).Train); // built once per dataset and recipe
    }

    [Fact]
    public void A_dataset_scenes_cannot_be_made_of_is_refused_naming_why()
    {
        var rgb = Squares(30, 100) with { Channels = 3, Pixels = new byte[30 * 8 * 8 * 3] };
        var colour = new DatasetSplits(rgb, rgb, rgb, "/data/colour", "c0") { Classes = 3 };
        Assert.Contains("1-channel dataset", Assert.Throws<NasInputException>(() => Scenes.For(colour, SceneRecipe.Default)).Message);
        var big = new DatasetSplits(Squares(30, 100, side: 40), Squares(10, 100, side: 40), Squares(10, 100, side: 40), "/data/big", "b1") { Classes = 3 };
        Assert.Contains("do not fit a 32-pixel canvas", Assert.Throws<NasInputException>(() => Scenes.For(big, new SceneRecipe(Canvas: 32))).Message);
        var small = new DatasetSplits(Squares(30, 100), Squares(10, 100), Squares(10, 100), "/data/small", "s1") { Classes = 3 };
        Assert.Contains("items per scene must be 1 to 8", Assert.Throws<NasInputException>(() => Scenes.For(small, new SceneRecipe(MaxItems: 0))).Message);
    }
}

/// <summary>mIoU and pixel accuracy against hand-worked confusion matrices.</summary>
public sealed class SegmentationMetricsTests
{
    [Fact]
    public void Mean_iou_averages_the_classes_present_in_truth_or_prediction()
    {
        // Background: 8 pixels, 6 right, 2 called class 1. Class 1: 4 pixels, 3 right, 1 called background. Class 2: absent.
        var confusion = new long[,] { { 6, 2, 0 }, { 1, 3, 0 }, { 0, 0, 0 } };
        // IoU(bg) = 6 / (8 + 7 - 6) = 2/3; IoU(1) = 3 / (4 + 5 - 3) = 1/2; class 2 does not count.
        Assert.Equal((2.0 / 3 + 0.5) / 2, SegmentationMetrics.MeanIoU(confusion), 12);
        Assert.Equal(9.0 / 12, SegmentationMetrics.PixelAccuracy(confusion), 12);
    }

    [Fact]
    public void A_class_only_predicted_counts_as_zero_and_a_perfect_map_as_one()
    {
        // Four background pixels, one of them called class 2: IoU(bg) = 3/4, IoU(2) = 0/1.
        Assert.Equal(0.375, SegmentationMetrics.MeanIoU(new long[,] { { 3, 0, 1 }, { 0, 0, 0 }, { 0, 0, 0 } }), 12);
        Assert.Equal(1.0, SegmentationMetrics.MeanIoU(new long[,] { { 5, 0 }, { 0, 7 } }));
        Assert.Equal(0.0, SegmentationMetrics.MeanIoU(new long[2, 2]));
    }
}

/// <summary>Segmentation networks at proxy scale: the scene's input, per-pixel logits at its resolution, the IR's parameter count.</summary>
public sealed class SegmentationScalingTests
{
    private static readonly ProxySpec Segmentation = ProxySpec.Default with { Task = ProxyTask.Segmentation, Resolution = 64, Classes = 11 };

    private static void AssertSegmentationProxy(Network candidate)
    {
        var proxy = ProxyScaling.Scale(candidate, Segmentation);
        Assert.Equal(new TensorShape(64, 64, 1), ((InputOp)proxy.Layers[0].Op).Shape);
        Assert.Equal(new TensorShape(64, 64, 11), proxy.ShapeOf(proxy.Outputs[0]));
        Assert.Equal(candidate.Layers.Select(l => OpNames.Of(l.Op)), proxy.Layers.Select(l => OpNames.Of(l.Op)));
        Assert.All(proxy.Layers.Select(l => l.Op).OfType<ResizeOp>(), r => Assert.True(r.Height >= 2 && r.Width >= 2));
        using var module = new IrModule(proxy);
        Assert.Equal(proxy.Params, module.IrParameterCount);
        using var y = module.forward(TorchSharp.torch.zeros(2, 1, 64, 64));
        Assert.Equal([2L, 11, 64, 64], y.shape);
    }

    [Fact]
    public void Sampled_autoseg_candidates_and_deeplab_scale_to_64x64_scenes_with_per_pixel_logits()
    {
        var space = BuiltInSpaces.Load("autoseg-edgetpu");
        var rng = new DeterministicRng(11);
        for (var i = 0; i < 8; i++) AssertSegmentationProxy(space.Build(space.Sample(rng)));
        AssertSegmentationProxy(ModelZoo.Build("deeplabv3plus-mobilenet-v2"));
        Assert.Equal(ProxyTask.Segmentation, ProxyTasks.Of(ModelZoo.Build("deeplabv3plus-mobilenet-v2")));
    }

    [Fact]
    public void A_classifier_is_not_trained_as_a_segmenter()
    {
        var e = Assert.Throws<NasInputException>(() => ProxyScaling.Scale(ModelZoo.Build("mobilenet-v2"), Segmentation));
        Assert.Contains("is a classification network; this proxy trains segmentation", e.Message);
        Assert.Contains("no proxy trains the task 'speech'", Assert.Throws<NasInputException>(() => ProxyTasks.Parse("speech")).Message);
    }
}

/// <summary>Training the segmentation proxy for real (TorchSharp, scenes of Fashion-MNIST items).</summary>
[Collection("torch")]
[Trait("Tier", "slow")]
public sealed class SegmentationTrainingTests(TorchFixture fixture)
{
    [Fact]
    public void An_autoseg_candidate_learns_beyond_all_background_reproducibly_and_its_record_retrains_it_exactly()
    {
        var space = BuiltInSpaces.Load("autoseg-edgetpu");
        var candidate = space.Build(space.Sample(new DeterministicRng(1)));
        var config = new TrainingConfig { Steps = 60, Seed = 3 };
        var first = ProxyTrainer.Run(candidate, config, fixture.Environment);
        Assert.True(first.Succeeded, first.FailureReason);
        Assert.Equal("mIoU", first.Metric);

        // The score to beat: a map that calls every pixel background (its mIoU is the background's share / 11).
        var (_, validation) = Scenes.For(fixture.Data, SceneRecipe.Default);
        var background = validation.Masks.Count(m => m == 0) / (double)validation.Masks.Length;
        Assert.True(first.Score > background / 11 * 1.1, $"mIoU {first.Score:0.000} vs all-background {background / 11:0.000}");
        Assert.InRange(first.Score, 0, 1);

        // Reproducible, and what an experiment records retrains it exactly on a node with other defaults (one run shows both).
        var record = ProxyRecipes.Describe(fixture.Data, config, fixture.Environment, ProxyTask.Segmentation);
        Assert.Equal(("segmentation", 0.0, 64), (record.Task, record.DistillationWeight, record.Resolution));
        var other = fixture.Environment with { Scenes = new SceneRecipe(Canvas: 96, TrainScenes: 50), Spec = ProxySpec.Default with { WidthMultiplier = 0.5 } };
        var again = ProxyTrainer.Run(candidate, config with { BatchSize = 16 }, other, training: record);
        Assert.True(again.Succeeded, again.FailureReason);
        Assert.Equal((first.Score, first.Loss), (again.Score, again.Loss));
    }
}
