using System.Buffers.Binary;
using System.IO.Compression;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// Debian's headless chromium driven through Debian's chromium-driver (no browser download is possible
/// here; scripts/install-deps.sh test installs both). One browser per test.
/// </summary>
public sealed class Browser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";

    private readonly string _profile = Directory.CreateTempSubdirectory("nas-chromium-").FullName;

    public ChromeDriver Driver { get; }

    public Browser(int width = 1400, int height = 2400)
    {
        if (!File.Exists(ChromiumPath) || !File.Exists(DriverPath))
            throw new InvalidOperationException($"browser tests need Debian's chromium and chromium-driver ({ChromiumPath}, {DriverPath}): scripts/install-deps.sh test installs them");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--window-size={width},{height}",
            "--user-data-dir=" + _profile);
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public IJavaScriptExecutor Js => Driver;

    public object? Eval(string script, params object[] args) => Js.ExecuteScript(script, args);

    /// <summary>Waits (without sleeping a fixed time) until the script returns true.</summary>
    public void Until(string script, TimeSpan timeout, string what)
    {
        var wait = new WebDriverWait(Driver, timeout) { PollingInterval = TimeSpan.FromMilliseconds(50) };
        try
        {
            wait.Until(_ => Eval(script) is true);
        }
        catch (WebDriverTimeoutException)
        {
            throw new TimeoutException($"the page never reached: {what} (errors: {Eval("return JSON.stringify(window.__reportErrors || [])")})");
        }
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // chromium may still be flushing its profile; the directory is in /tmp and named per test.
        }
    }
}

/// <summary>
/// Reads a PNG screenshot's pixels (8-bit RGB or RGBA, not interlaced: what Chromium writes) to tell a
/// drawn page from a blank one, without an imaging library.
/// </summary>
public static class Png
{
    public sealed record Image(int Width, int Height, byte[] Rgb);

    public static Image Decode(byte[] png)
    {
        if (png.Length < 8 || png[1] != 'P' || png[2] != 'N' || png[3] != 'G') throw new InvalidDataException("not a PNG");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (var at = 8; at + 8 <= png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (data[8] != 8 || data[12] != 0) throw new InvalidDataException("only 8-bit, non-interlaced PNGs");
                channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"PNG colour type {data[9]}") };
            }
            else if (type == "IDAT") idat.Write(data);
            else if (type == "IEND") break;
            at += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var stride = width * channels;
        var raw = new byte[height * (stride + 1)];
        z.ReadExactly(raw);
        var pixels = new byte[height * stride];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            var row = pixels.AsSpan(y * stride, stride);
            var up = y == 0 ? new byte[stride] : pixels.AsSpan((y - 1) * stride, stride).ToArray();
            for (var i = 0; i < stride; i++)
            {
                int a = i >= channels ? row[i - channels] : 0, b = up[i], c = i >= channels ? up[i - channels] : 0;
                row[i] = (byte)(line[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                });
            }
        }
        var rgb = new byte[width * height * 3];
        for (var p = 0; p < width * height; p++)
            for (var k = 0; k < 3; k++) rgb[p * 3 + k] = pixels[p * channels + k];
        return new Image(width, height, rgb);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Distinct colours, and the share of pixels that differ from the most common colour (the background).</summary>
    public static (int Colours, double Drawn) Content(Image image)
    {
        var counts = new Dictionary<int, int>();
        for (var p = 0; p < image.Width * image.Height; p++)
        {
            var key = (image.Rgb[p * 3] << 16) | (image.Rgb[p * 3 + 1] << 8) | image.Rgb[p * 3 + 2];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        var background = counts.Values.Max();
        return (counts.Count, 1 - background / (double)(image.Width * image.Height));
    }
}
