namespace NasCluster.TrainerNode.Detection;

/// <summary>A box in normalised image coordinates (0–1), corners [X0, X1) × [Y0, Y1).</summary>
public readonly record struct Box(double X0, double Y0, double X1, double Y1)
{
    public double Width => X1 - X0;
    public double Height => Y1 - Y0;
    public double CenterX => (X0 + X1) / 2;
    public double CenterY => (Y0 + Y1) / 2;
    public double Area => Math.Max(0, Width) * Math.Max(0, Height);

    public static Box FromCenter(double cx, double cy, double w, double h) => new(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);

    public static double IoU(Box a, Box b)
    {
        var w = Math.Min(a.X1, b.X1) - Math.Max(a.X0, b.X0);
        var h = Math.Min(a.Y1, b.Y1) - Math.Max(a.Y0, b.Y0);
        if (w <= 0 || h <= 0) return 0;
        var inter = w * h;
        return inter / (a.Area + b.Area - inter);
    }
}

/// <summary>A labelled box: the truth of a scene, or a detection with its score.</summary>
public readonly record struct LabelledBox(int Class, Box Box, double Score = 1);

/// <summary>
/// SSD's box coding: a box relative to its anchor as (Δcx / w_a, Δcy / h_a, log(w / w_a), log(h / h_a)),
/// divided by the variances 0.1 and 0.2 so the four targets have similar spread (Liu et al., 2016).
/// </summary>
public static class BoxCodec
{
    public const double CenterVariance = 0.1;
    public const double SizeVariance = 0.2;

    public static (float Dx, float Dy, float Dw, float Dh) Encode(Box box, Box anchor) =>
        ((float)((box.CenterX - anchor.CenterX) / anchor.Width / CenterVariance),
         (float)((box.CenterY - anchor.CenterY) / anchor.Height / CenterVariance),
         (float)(Math.Log(box.Width / anchor.Width) / SizeVariance),
         (float)(Math.Log(box.Height / anchor.Height) / SizeVariance));

    public static Box Decode(float dx, float dy, float dw, float dh, Box anchor)
    {
        // Clamped so an untrained network's wild outputs stay finite boxes.
        var w = anchor.Width * Math.Exp(Math.Clamp(dw * SizeVariance, -8, 8));
        var h = anchor.Height * Math.Exp(Math.Clamp(dh * SizeVariance, -8, 8));
        return Box.FromCenter(anchor.CenterX + dx * CenterVariance * anchor.Width, anchor.CenterY + dy * CenterVariance * anchor.Height, w, h);
    }
}
