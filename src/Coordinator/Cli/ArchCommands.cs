using System.CommandLine;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster arch show FILE</c>: read and check an arch.json file, or import an ONNX model into the IR.</summary>
internal static class ArchCommands
{
    public static Command Build()
    {
        var arch = new Command("arch", "Architecture files (arch.json): the format networks are exported and imported in.");
        var show = new Command("show", "Validate an arch.json file (or import an ONNX model) and show its counts, hash and layers.");
        var file = new Argument<string>("FILE") { Description = "An arch.json file or an ONNX model (.onnx)." };
        var json = new Option<bool>("--json") { Description = "Print a JSON object instead of tables." };
        show.Add(file);
        show.Add(json);
        show.SetAction(p => CliApp.Guard(p, o =>
        {
            var path = p.GetValue(file)!;
            var network = path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? OnnxImporter.ReadFile(path) : ArchJson.ReadFile(path);
            if (p.GetValue(json))
                o.Json(w =>
                {
                    w.WriteStartObject();
                    NetworkReport.WriteJsonFields(w, network);
                    w.WriteEndObject();
                });
            else
                NetworkReport.WriteHuman(o, network, [("file", path)], layers: true);
            return ExitCodes.Ok;
        }));
        arch.Add(show);
        return arch;
    }

    /// <summary>Writes an arch.json file; an unwritable path is a user error, not a crash.</summary>
    public static void Save(Network network, string path) => AtomicFile.Write(path, ArchJson.Write(network), "arch.json");
}
