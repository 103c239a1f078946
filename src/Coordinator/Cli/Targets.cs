using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;

namespace NasCluster.Coordinator.Cli;

/// <summary>What commands that take a network accept: a zoo name, an arch.json file or an ONNX model.</summary>
internal static class Targets
{
    public static Network Resolve(string target, int? resolution)
    {
        if (ModelZoo.Contains(target)) return ModelZoo.Build(target, resolution);
        if (File.Exists(target))
        {
            if (resolution is not null)
                throw new NasInputException("--resolution applies to zoo models; a file fixes its own input size", target);
            return IsOnnx(target) ? OnnxImporter.ReadFile(target) : ArchJson.ReadFile(target);
        }
        if (target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || IsOnnx(target) || target.Contains('/'))
            throw new NasInputException("file not found", target);
        return ModelZoo.Build(target, resolution); // unknown name: the zoo's error suggests the closest one
    }

    private static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);
}
