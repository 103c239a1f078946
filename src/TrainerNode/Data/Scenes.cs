using NasCluster.Shared.Util;

namespace NasCluster.TrainerNode.Data;

/// <summary>
/// How the segmentation and detection proxies' scenes are made from a 1-channel dataset's real images: a
/// square canvas, a few items per scene at seeded places (overlapping little), each item's bright pixels its
/// mask. What an experiment records, so every trainer builds the same scenes.
/// </summary>
/// <param name="Canvas">Side of the square scene in pixels (the proxy's input resolution).</param>
/// <param name="MaxItems">Items per scene: 1 to this many, uniformly.</param>
/// <param name="TrainScenes">Scenes built from the training split's images.</param>
/// <param name="ValidationScenes">Scenes built from the validation split's images: the score is measured on them.</param>
/// <param name="Seed">The seed of the placements and of the items drawn.</param>
/// <param name="MaskThreshold">An item's pixel brighter than this (0–255) belongs to it; darker is background.</param>
/// <param name="MaxOverlap">A placement whose box overlaps an earlier item's by more than this IoU is drawn again.</param>
public sealed record SceneRecipe(int Canvas = 64, int MaxItems = 3, int TrainScenes = 4000, int ValidationScenes = 500, ulong Seed = 20221108,
    int MaskThreshold = 25, double MaxOverlap = 0.25)
{
    public static SceneRecipe Default { get; } = new();

    /// <summary>What is wrong with the recipe, or null.</summary>
    public string? Problem() =>
        Canvas is < 32 or > 256 ? $"scene canvas must be 32 to 256 pixels (got {Canvas})"
        : MaxItems is < 1 or > 8 ? $"items per scene must be 1 to 8 (got {MaxItems})"
        : TrainScenes < 16 || ValidationScenes < 8 ? $"at least 16 training and 8 validation scenes (got {TrainScenes}, {ValidationScenes})"
        : MaskThreshold is < 0 or > 254 ? $"mask threshold must be 0 to 254 (got {MaskThreshold})"
        : MaxOverlap is < 0 or > 1 ? $"overlap must be 0 to 1 (got {MaxOverlap})"
        : null;
}

/// <summary>One item in a scene: its class (the dataset's label) and its box in pixels, [X0, X1) × [Y0, Y1).</summary>
public readonly record struct SceneBox(int Class, int X0, int Y0, int X1, int Y1)
{
    public int Area => Math.Max(0, X1 - X0) * Math.Max(0, Y1 - Y0);

    public static double IoU(SceneBox a, SceneBox b)
    {
        var w = Math.Min(a.X1, b.X1) - Math.Max(a.X0, b.X0);
        var h = Math.Min(a.Y1, b.Y1) - Math.Max(a.Y0, b.Y0);
        if (w <= 0 || h <= 0) return 0;
        var inter = (double)w * h;
        return inter / (a.Area + b.Area - inter);
    }
}

/// <summary>
/// Scenes: grey canvases with a per-pixel label (0 background, 1 + the item's class elsewhere) and each
/// item's box. Built once per dataset and recipe and shared read-only.
/// </summary>
public sealed record SceneSet(byte[] Pixels, byte[] Masks, IReadOnlyList<SceneBox>[] Boxes, int Count, int Size)
{
    public float Mean { get; init; }
    public float Std { get; init; } = 1;
}

/// <summary>
/// The segmentation and detection tasks built deterministically from real images (Fashion-MNIST by default):
/// scenes of one to a few items on a larger dark canvas, each item's pixels labelled with its class, the
/// background its own class, and each item's box. Training scenes use only the training split's images,
/// validation scenes only the validation split's, so the score is on images no proxy trained on.
/// </summary>
public static class Scenes
{
    private static readonly Dictionary<string, (SceneSet Train, SceneSet Validation)> Built = new(StringComparer.Ordinal);

    /// <summary>The scenes of a dataset and recipe (built once per process).</summary>
    /// <exception cref="NasInputException">The recipe is invalid, or the dataset is not 1-channel or its images do not fit the canvas.</exception>
    public static (SceneSet Train, SceneSet Validation) For(DatasetSplits data, SceneRecipe recipe)
    {
        if (recipe.Problem() is { } problem) throw new NasInputException(problem);
        if (data.Channels != 1)
            throw new NasInputException($"scenes need a 1-channel dataset with dark backgrounds, as Fashion-MNIST (this one has {data.Channels} channels)", data.Directory);
        if (data.Train.Height > recipe.Canvas || data.Train.Width > recipe.Canvas)
            throw new NasInputException($"the dataset's {data.Train.Height}×{data.Train.Width} images do not fit a {recipe.Canvas}-pixel canvas", data.Directory);
        var key = $"{data.Fingerprint}|{recipe}";
        lock (Built)
        {
            if (Built.TryGetValue(key, out var sets)) return sets;
            var train = Build(data.Train, recipe.TrainScenes, recipe, recipe.Seed);
            var validation = Build(data.Validation, recipe.ValidationScenes, recipe, recipe.Seed ^ 0x5EED5EED5EED5EEDUL);
            var (mean, std) = Statistics(train);
            sets = (train with { Mean = mean, Std = std }, validation with { Mean = mean, Std = std });
            Built[key] = sets;
            return sets;
        }
    }

    /// <summary>
    /// <paramref name="count"/> scenes from <paramref name="items"/>: per scene 1…MaxItems items drawn at random,
    /// each placed at a random position whose box overlaps no earlier one's by more than MaxOverlap (ten tries,
    /// else the item is left out); a later item covers an earlier one where their masks meet.
    /// </summary>
    public static SceneSet Build(ImageSet items, int count, SceneRecipe recipe, ulong seed)
    {
        var size = recipe.Canvas;
        var (h, w) = (items.Height, items.Width);
        var pixels = new byte[count * size * size];
        var masks = new byte[count * size * size];
        var boxes = new IReadOnlyList<SceneBox>[count];
        var rng = new DeterministicRng(seed);
        for (var s = 0; s < count; s++)
        {
            var placed = new List<SceneBox>();
            var n = 1 + rng.NextInt(recipe.MaxItems);
            var canvas = pixels.AsSpan(s * size * size, size * size);
            var mask = masks.AsSpan(s * size * size, size * size);
            for (var k = 0; k < n; k++)
            {
                var item = rng.NextInt(items.Count);
                var source = items.Pixels.AsSpan(item * h * w, h * w);
                // The item's own box: its mask's tight bounds inside the h × w image.
                int top = h, bottom = -1, left = w, right = -1;
                for (var r = 0; r < h; r++)
                    for (var c = 0; c < w; c++)
                        if (source[r * w + c] > recipe.MaskThreshold)
                            (top, bottom, left, right) = (Math.Min(top, r), Math.Max(bottom, r), Math.Min(left, c), Math.Max(right, c));
                if (bottom < 0) continue; // an all-dark image has nothing to place
                SceneBox? box = null;
                int y = 0, x = 0;
                for (var attempt = 0; attempt < 10 && box is null; attempt++)
                {
                    y = rng.NextInt(size - h + 1);
                    x = rng.NextInt(size - w + 1);
                    var candidate = new SceneBox(items.Labels[item], x + left, y + top, x + right + 1, y + bottom + 1);
                    if (placed.All(b => SceneBox.IoU(b, candidate) <= recipe.MaxOverlap)) box = candidate;
                }
                if (box is not { } placedBox) continue;
                for (var r = 0; r < h; r++)
                    for (var c = 0; c < w; c++)
                    {
                        var v = source[r * w + c];
                        if (v <= recipe.MaskThreshold) continue;
                        var at = (y + r) * size + x + c;
                        canvas[at] = v;
                        mask[at] = (byte)(1 + items.Labels[item]);
                    }
                placed.Add(placedBox);
            }
            boxes[s] = placed;
        }
        return new SceneSet(pixels, masks, boxes, count, size);
    }

    private static (float Mean, float Std) Statistics(SceneSet set)
    {
        double sum = 0, sum2 = 0;
        foreach (var p in set.Pixels)
        {
            var v = p / 255.0;
            sum += v;
            sum2 += v * v;
        }
        var mean = sum / set.Pixels.Length;
        return ((float)mean, (float)Math.Sqrt(Math.Max(1e-12, sum2 / set.Pixels.Length - mean * mean)));
    }
}
