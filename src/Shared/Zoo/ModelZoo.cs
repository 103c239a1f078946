using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.Zoo;

/// <summary>
/// One reference model: how to build it, its standard input size and, where there is one, the published
/// size it must reproduce (the tests hold the builders to these numbers).
/// </summary>
public sealed record ZooEntry(
    string Name,
    string Task,
    int DefaultResolution,
    string Description,
    Func<int, Network> Build,
    double? PublishedParams = null,
    double? PublishedMacs = null,
    string? Source = null)
{
    /// <summary>True for image models; for <c>mobilebert</c> the "resolution" is the sequence length.</summary>
    public bool IsImageModel => Task != "nlp";
}

/// <summary>The reference networks by name, for costing, calibration and comparison with search results.</summary>
public static class ModelZoo
{
    public const int MaxResolution = 4096;

    private static readonly ZooEntry[] Entries = BuildEntries();

    public static IReadOnlyList<ZooEntry> All => Entries;

    public static IEnumerable<string> Names => Entries.Select(e => e.Name);

    public static bool Contains(string name) => Entries.Any(e => e.Name == name);

    /// <exception cref="NasInputException">Unknown name.</exception>
    public static ZooEntry Get(string name) =>
        Entries.FirstOrDefault(e => e.Name == name)
        ?? throw new NasInputException($"unknown zoo model '{name}'{Suggest(name)} (see `nascluster zoo list`)");

    /// <summary>Builds <paramref name="name"/> at <paramref name="resolution"/> (its standard one if null).</summary>
    /// <exception cref="NasInputException">Unknown name, a resolution out of range, or one at which the network cannot exist.</exception>
    public static Network Build(string name, int? resolution = null)
    {
        var entry = Get(name);
        var r = resolution ?? entry.DefaultResolution;
        var what = entry.IsImageModel ? "resolution" : "sequence length";
        if (r < 1 || r > MaxResolution)
            throw new NasInputException($"{what} must be between 1 and {MaxResolution} (got {r})");
        try
        {
            return entry.Build(r);
        }
        catch (InvalidNetworkException e)
        {
            throw new NasInputException($"{name} cannot be built at {what} {r}: {e.Message}");
        }
    }

    private static string Suffix(string name)
    {
        var tail = name[(name.LastIndexOf('-') + 1)..];
        return tail == "tiny" ? "Tiny" : tail.ToUpperInvariant();
    }

    private static string Suggest(string name)
    {
        var close = Entries.Select(e => e.Name)
            .OrderBy(n => Levenshtein(n, name)).First();
        return Levenshtein(close, name) <= Math.Max(2, name.Length / 3) ? $" (did you mean '{close}'?)" : "";
    }

    internal static int Levenshtein(string a, string b)
    {
        var d = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) d[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            var prev = d[0];
            d[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var tmp = d[j];
                d[j] = Math.Min(Math.Min(d[j] + 1, d[j - 1] + 1), prev + (a[i - 1] == b[j - 1] ? 0 : 1));
                prev = tmp;
            }
        }
        return d[b.Length];
    }

    private static ZooEntry[] BuildEntries()
    {
        const string slim = "TF-slim mobilenet README";
        const string garden = "TF Model Garden edgetpu README / edgetpu.md §3";
        var list = new List<ZooEntry>
        {
            new("mobilenet-v1", "classification", 224, "MobileNet v1 1.0 (depthwise-separable, ReLU6)",
                r => MobileNets.V1(r), 4.24e6, 569e6, slim),
            new("mobilenet-v2", "classification", 224, "MobileNet v2 1.0 (depthwise IBN, ReLU6)",
                r => MobileNets.V2(r), 3.47e6, 300e6, slim + " (3.47M; the paper rounds to 3.4M)"),
            new("mobilenet-edgetpu", "classification", 224, "MobileNetEdgeTPU dm 1.0 (fused early, depthwise late)",
                r => EdgeTpuModels.MobileNetEdgeTpu(r, 1.0, "mobilenet-edgetpu"), 4.0e6, 990e6, slim + " Edge TPU checkpoints"),
            new("mobilenet-edgetpu-0.75", "classification", 224, "MobileNetEdgeTPU dm 0.75",
                r => EdgeTpuModels.MobileNetEdgeTpu(r, 0.75, "mobilenet-edgetpu-0.75"), 2.9e6, 624e6, slim + " Edge TPU checkpoints"),
        };
        foreach (var v in EdgeTpuModels.V2Variants)
            list.Add(new(v.Name, "classification", 224,
                $"MobileNetEdgeTPUv2-{Suffix(v.Name)} (fused, GC and depthwise IBNs)",
                r => EdgeTpuModels.MobileNetEdgeTpuV2(v, r), null, null, garden));
        list.AddRange(
        [
            new("efficientnet-edgetpu-s", "classification", 224, "EfficientNet-EdgeTPU-S (width 1.0, depth 1.0)",
                r => EdgeTpuModels.EfficientNetEdgeTpu("efficientnet-edgetpu-s", 1.0, 1.0, r)),
            new("efficientnet-edgetpu-m", "classification", 240, "EfficientNet-EdgeTPU-M (width 1.0, depth 1.1)",
                r => EdgeTpuModels.EfficientNetEdgeTpu("efficientnet-edgetpu-m", 1.0, 1.1, r)),
            new("efficientnet-edgetpu-l", "classification", 300, "EfficientNet-EdgeTPU-L (width 1.2, depth 1.4)",
                r => EdgeTpuModels.EfficientNetEdgeTpu("efficientnet-edgetpu-l", 1.2, 1.4, r)),
            new("resnet-50", "classification", 224, "ResNet-50 v1.5",
                r => ClassicModels.ResNet("resnet-50", [3, 4, 6, 3], r), 25.6e6, 4.1e9, "He et al. 2016; torchvision"),
            new("resnet-152", "classification", 224, "ResNet-152 v1.5",
                r => ClassicModels.ResNet("resnet-152", [3, 8, 36, 3], r), 60.2e6, 11.5e9, "He et al. 2016; torchvision"),
            new("vgg-16", "classification", 224, "VGG-16 (no batch norm)",
                r => ClassicModels.Vgg("vgg-16", [2, 2, 3, 3, 3], r), 138e6, 15.5e9, "Simonyan & Zisserman 2015"),
            new("vgg-19", "classification", 224, "VGG-19 (no batch norm)",
                r => ClassicModels.Vgg("vgg-19", [2, 2, 4, 4, 4], r), 143.7e6, 19.6e9, "Simonyan & Zisserman 2015; torchvision"),
            new("squeezenet", "classification", 224, "SqueezeNet 1.0 (fire modules)",
                r => ClassicModels.SqueezeNet(r), 1.25e6, null, "Iandola et al. 2016"),
            new("inception-v1", "classification", 224, "Inception v1 / GoogLeNet (no auxiliary heads)",
                r => ClassicModels.InceptionV1(r), 6.8e6, 1.5e9, "Szegedy et al. 2015"),
            new("densenet-121", "classification", 224, "DenseNet-121 (growth 32)",
                r => ClassicModels.DenseNet121(r), 7.98e6, 2.87e9, "Huang et al. 2017; torchvision"),
            new("ssdlite-mobilenet-v2", "detection", 320, "SSDLite on MobileNet v2 (COCO, 91 classes)",
                r => TaskModels.SsdLiteMobileNetV2(r), 4.3e6, 0.8e9, "Sandler et al. 2018, Table 6"),
            new("deeplabv3plus-mobilenet-v2", "segmentation", 512, "DeepLabV3+ on MobileNet v2, ADE20K 32 classes",
                r => TaskModels.DeepLabV3PlusMobileNetV2(r), 2.34e6, null, garden),
            new("mobilebert", "nlp", 384, "MobileBERT (24 layers, bottleneck 128, SQuAD head); resolution = sequence length",
                r => TaskModels.MobileBert(r), 24.6e6, null, garden),
        ]);
        return list.ToArray();
    }
}
