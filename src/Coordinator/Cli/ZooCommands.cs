using System.CommandLine;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Zoo;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary><c>nascluster zoo list|show</c>: the reference networks.</summary>
internal static class ZooCommands
{
    public static Command Build()
    {
        var zoo = new Command("zoo", "Reference networks (MobileNets, MobileNetEdgeTPU v1/v2, EfficientNet-EdgeTPU, ResNet, ...).");

        var list = new Command("list", "List the zoo with parameter and MAC counts next to the published figures.");
        var listJson = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        list.Add(listJson);
        list.SetAction(p => CliApp.Guard(p, o => List(o, p.GetValue(listJson))));
        zoo.Add(list);

        var show = new Command("show", "Show one network: counts, hash and every layer.");
        var name = new Argument<string>("NAME") { Description = "A zoo name (see `zoo list`)." };
        var resolution = Options.OptionalInt("--resolution", "Input resolution (sequence length for mobilebert); default: the model's standard one.");
        var json = new Option<bool>("--json") { Description = "Print a JSON object (name, params, macs, weight_bytes, layers, ...)." };
        var save = new Option<string?>("--save") { Description = "Also write the network as an arch.json file." };
        show.Add(name);
        show.Add(resolution);
        show.Add(json);
        show.Add(save);
        show.SetAction(p => CliApp.Guard(p, o =>
        {
            var entry = ModelZoo.Get(p.GetValue(name)!);
            var res = p.GetValue(resolution) ?? entry.DefaultResolution;
            var network = ModelZoo.Build(entry.Name, res);
            if (p.GetValue(save) is { } path) ArchCommands.Save(network, path);
            if (p.GetValue(json))
            {
                o.Json(w =>
                {
                    w.WriteStartObject();
                    NetworkReport.WriteJsonFields(w, network);
                    w.WriteString("task", entry.Task);
                    w.WriteNumber("resolution", res);
                    if (entry.PublishedParams is { } pp) w.WriteNumber("published_params", pp);
                    if (entry.PublishedMacs is { } pm) w.WriteNumber("published_macs", pm);
                    w.WriteEndObject();
                });
            }
            else
            {
                NetworkReport.WriteHuman(o, network,
                [
                    ("model", $"{entry.Name}: {entry.Description}"),
                    ("task", entry.Task),
                    (entry.IsImageModel ? "resolution" : "sequence length", res.ToString()),
                ], layers: true);
            }
            return ExitCodes.Ok;
        }));
        zoo.Add(show);
        return zoo;
    }

    private static int List(CliOutput o, bool json)
    {
        var rows = ModelZoo.All.Select(e => (Entry: e, Net: e.Build(e.DefaultResolution))).ToList();
        if (json)
        {
            o.Json(w =>
            {
                w.WriteStartArray();
                foreach (var (e, n) in rows)
                {
                    w.WriteStartObject();
                    w.WriteString("name", e.Name);
                    w.WriteString("task", e.Task);
                    w.WriteNumber("resolution", e.DefaultResolution);
                    w.WriteNumber("params", n.Params);
                    w.WriteNumber("macs", n.Macs);
                    w.WriteNumber("weight_bytes", n.WeightBytesInt8);
                    if (e.PublishedParams is { } pp) w.WriteNumber("published_params", pp);
                    if (e.PublishedMacs is { } pm) w.WriteNumber("published_macs", pm);
                    w.WriteString("description", e.Description);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
            return ExitCodes.Ok;
        }
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("name", "task", "input", "params", "published", "MACs", "published", "description");
        foreach (var (e, n) in rows)
            table.AddRow(e.Name, e.Task, e.DefaultResolution.ToString(), Format.Count(n.Params), Published(n.Params, e.PublishedParams),
                Format.Count(n.Macs), Published(n.Macs, e.PublishedMacs), Markup.Escape(e.Description));
        o.Console.Write(table);
        return ExitCodes.Ok;
    }

    private static string Published(double ours, double? published) =>
        published is { } p ? $"{Format.Count(p)} ({Format.Percent(ours / p - 1)})" : "-";
}
