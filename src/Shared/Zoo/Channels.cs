namespace NasCluster.Shared.Zoo;

/// <summary>Channel rounding used by the MobileNet / EfficientNet families (TF <c>round_filters</c>, <c>_make_divisible</c>).</summary>
public static class Channels
{
    /// <summary>
    /// Scales <paramref name="filters"/> by <paramref name="multiplier"/> and rounds to the nearest
    /// multiple of <paramref name="divisor"/>, never going below it or more than 10% down.
    /// </summary>
    public static int Round(int filters, double multiplier, int divisor = 8, int? minDepth = null)
    {
        var scaled = filters * multiplier;
        var min = minDepth ?? divisor;
        var rounded = Math.Max(min, (int)(scaled + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * scaled) rounded += divisor;
        return rounded;
    }
}
