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
/// <param name="MinItemSize">With <paramref name="MaxItemSize"/>: each item is resized to a side drawn uniformly from this range (pixels); 0: items keep their size.</param>
/// <param name="MaxItemSize">The largest item side (pixels).</param>
public sealed record SceneRecipe(int Canvas = 64, int MaxItems = 3, int TrainScenes = 4000, int ValidationScenes = 500, ulong Seed = 20221108,
    int MaskThreshold = 25, double MaxOverlap = 0.25, int MinItemSize = 0, int MaxItemSize = 0)
{
    /// <summary>The segmentation proxy's scenes: 1–3 items at their own size (28×28 for Fashion-MNIST).</summary>
    public static SceneRecipe Default { get; } = new();

    /// <summary>
    /// The detection proxy's scenes: 1–4 items of 14 to 28 pixels, so objects span SSD's default box scales
    /// (0.2–0.44 of the canvas) and the dense first level has objects to match, not only the coarser ones.
    /// </summary>
    public static SceneRecipe Detection { get; } = new(MaxItems: 4, MinItemSize: 14, MaxItemSize: 28);

    public static SceneRecipe For(NasCluster.TrainerNode.Proxy.ProxyTask task) => task == NasCluster.TrainerNode.Proxy.ProxyTask.Detection ? Detection : Default;

    /// <summary>What is wrong with the recipe, or null.</summary>
    public string? Problem() =>
        Canvas is < 32 or > 256 ? $"scene canvas must be 32 to 256 pixels (got {Canvas})"
        : MaxItems is < 1 or > 8 ? $"items per scene must be 1 to 8 (got {MaxItems})"
        : TrainScenes < 16 || ValidationScenes < 8 ? $"at least 16 training and 8 validation scenes (got {TrainScenes}, {ValidationScenes})"
        : MaskThreshold is < 0 or > 254 ? $"mask threshold must be 0 to 254 (got {MaskThreshold})"
        : MaxOverlap is < 0 or > 1 ? $"overlap must be 0 to 1 (got {MaxOverlap})"
        : (MinItemSize, MaxItemSize) != (0, 0) && (MinItemSize < 4 || MaxItemSize < MinItemSize || MaxItemSize > Canvas)
            ? $"item sizes must be 4 ≤ min ≤ max ≤ the canvas (got {MinItemSize}–{MaxItemSize})"
        : null;

    // Item sizes are printed only when set, so the text of the recipes before them (benchmark keys) is unchanged.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"Canvas = {Canvas}, MaxItems = {MaxItems}, TrainScenes = {TrainScenes}, ValidationScenes = {ValidationScenes}, Seed = {Seed}, MaskThreshold = {MaskThreshold}, MaxOverlap = {MaxOverlap}");
        if ((MinItemSize, MaxItemSize) != (0, 0)) builder.Append(System.Globalization.CultureInfo.InvariantCulture, $", MinItemSize = {MinItemSize}, MaxItemSize = {MaxItemSize}");
        return true;
    }
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
        if (recipe.MaxItemSize == 0 && (data.Train.Height > recipe.Canvas || data.Train.Width > recipe.Canvas))
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
                var plane = items.Height * items.Width;
                ReadOnlySpan<byte> source = items.Pixels.AsSpan(item * plane, plane);
                (h, w) = (items.Height, items.Width);
                if (recipe.MaxItemSize > 0)
                {
                    // Resized (area averaging) so its longer side is drawn from the recipe's range, keeping its aspect ratio.
                    var side = recipe.MinItemSize + rng.NextInt(recipe.MaxItemSize - recipe.MinItemSize + 1);
                    var scale = (double)side / Math.Max(items.Height, items.Width);
                    (h, w) = (Math.Max(1, (int)Math.Round(items.Height * scale)), Math.Max(1, (int)Math.Round(items.Width * scale)));
                    source = Resize(source, items.Height, items.Width, h, w);
                }
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

    /// <summary>Area-average resize of a grey image (each target pixel the mean of the source area it covers).</summary>
    internal static byte[] Resize(ReadOnlySpan<byte> source, int height, int width, int toHeight, int toWidth)
    {
        var target = new byte[toHeight * toWidth];
        for (var y = 0; y < toHeight; y++)
        {
            var (y0, y1) = (y * height / (double)toHeight, (y + 1) * height / (double)toHeight);
            for (var x = 0; x < toWidth; x++)
            {
                var (x0, x1) = (x * width / (double)toWidth, (x + 1) * width / (double)toWidth);
                double sum = 0, weight = 0;
                for (var sy = (int)y0; sy < Math.Min(height, (int)Math.Ceiling(y1)); sy++)
                {
                    var wy = Math.Min(y1, sy + 1) - Math.Max(y0, sy);
                    for (var sx = (int)x0; sx < Math.Min(width, (int)Math.Ceiling(x1)); sx++)
                    {
                        var wxy = wy * (Math.Min(x1, sx + 1) - Math.Max(x0, sx));
                        sum += wxy * source[sy * width + sx];
                        weight += wxy;
                    }
                }
                target[y * toWidth + x] = (byte)Math.Round(sum / weight);
            }
        }
        return target;
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
