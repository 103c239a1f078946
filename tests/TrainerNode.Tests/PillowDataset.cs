using System.Diagnostics;

namespace NasCluster.TrainerNode.Tests;

/// <summary>
/// A small labelled image dataset written by Debian's Pillow (python3-pil, a dependency of python3-torchvision):
/// discs, squares and stripes of varying size, colour and format (PNG and JPEG), one folder per class.
/// </summary>
internal static class PillowDataset
{
    /// <summary>Writes <paramref name="perClass"/> images per class with Pillow: discs, squares and stripes of varying size, colour and format.</summary>
    public static void Write(string dir, int perClass, bool grey = false, string[]? classes = null)
    {
        classes ??= ["disc", "square", "stripes"];
        var script = $$"""
            import os, random
            from PIL import Image, ImageDraw
            random.seed(3)
            root = {{Python(dir)}}
            for c, name in enumerate({{"[" + string.Join(", ", classes.Select(Python)) + "]"}}):
                os.makedirs(os.path.join(root, name), exist_ok=True)
                for i in range({{perClass}}):
                    w, h = random.randint(20, 90), random.randint(20, 90)
                    mode = 'L' if {{(grey ? "True" : "i % 3 == 0")}} else 'RGB'
                    bg = random.randint(0, 80) if mode == 'L' else tuple(random.randint(0, 80) for _ in range(3))
                    fg = random.randint(150, 255) if mode == 'L' else tuple(random.randint(120, 255) for _ in range(3))
                    im = Image.new(mode, (w, h), bg)
                    d = ImageDraw.Draw(im)
                    if c % 3 == 0: d.ellipse([w * 0.2, h * 0.2, w * 0.8, h * 0.8], fill=fg)
                    elif c % 3 == 1: d.rectangle([w * 0.25, h * 0.25, w * 0.75, h * 0.75], fill=fg)
                    else:
                        for x in range(0, w, 6): d.line([x, 0, x, h], fill=fg, width=2)
                    ext = 'jpg' if i % 2 else 'png'
                    im.save(os.path.join(root, name, f'{i:03d}.{ext}'), quality=90)
            """;
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardInput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"Pillow could not write the test images (Debian's python3-pil, a dependency of python3-torchvision): {err}");
    }

    private static string Python(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

}
