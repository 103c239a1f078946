using System.Text.Json;
using NasCluster.Shared.Architecture;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary>How a network is shown: a summary and a per-layer table for people, a JSON object for programs.</summary>
internal static class NetworkReport
{
    public static void WriteHuman(CliOutput o, Network n, IEnumerable<(string Key, string Value)> header, bool layers)
    {
        var grid = new Grid().AddColumn().AddColumn();
        foreach (var (k, v) in header) grid.AddRow(Markup.Escape(k), Markup.Escape(v));
        grid.AddRow("parameters", $"{n.Params:N0} ({Format.Count(n.Params)})");
        grid.AddRow("MACs", $"{n.Macs:N0} ({Format.Count(n.Macs)})");
        grid.AddRow("weights (int8)", $"{n.WeightBytesInt8:N0} B ({Format.Bytes(n.WeightBytesInt8)})");
        grid.AddRow("weights (float32)", $"{n.WeightBytesFloat:N0} B ({Format.Bytes(n.WeightBytesFloat)})");
        grid.AddRow("activations (int8, sum)", Format.Bytes(n.ActivationBytes));
        grid.AddRow("layers", n.Layers.Length.ToString());
        grid.AddRow("outputs", Markup.Escape(string.Join(", ", n.Outputs.Select(x => $"{x} {n.ShapeOf(x)}"))));
        grid.AddRow("architecture hash", n.Hash);
        o.Console.Write(grid);
        if (!layers) return;
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("#", "layer", "op", "output", "params", "MACs", "weights", "activations");
        foreach (var c in table.Columns.Skip(4)) c.RightAligned();
        for (var i = 0; i < n.Infos.Length; i++)
        {
            var info = n.Infos[i];
            table.AddRow(i.ToString(), Markup.Escape(info.Layer.Name), Kind(info),
                info.OutputShape.ToString(), Format.Count(info.Params), Format.Count(info.Macs),
                Format.Bytes(info.WeightBytesInt8), Format.Bytes(info.OutputBytes));
        }
        o.Console.Write(table);
    }

    public static string Kind(LayerInfo info) =>
        OpNames.Describe(info.Layer.Op, info.InputShapes.Length > 0 ? info.InputShapes[0] : default);

    /// <summary>Writes the network's JSON fields (name, counts, hash, layers) into the current object.</summary>
    public static void WriteJsonFields(Utf8JsonWriter w, Network n)
    {
        w.WriteString("name", n.Name);
        w.WriteNumber("params", n.Params);
        w.WriteNumber("macs", n.Macs);
        w.WriteNumber("weight_bytes", n.WeightBytesInt8);
        w.WriteNumber("weight_bytes_float", n.WeightBytesFloat);
        w.WriteNumber("activation_bytes", n.ActivationBytes);
        w.WriteString("hash", n.Hash);
        w.WriteStartArray("outputs");
        foreach (var x in n.Outputs) w.WriteStringValue(x);
        w.WriteEndArray();
        w.WriteStartArray("layers");
        foreach (var info in n.Infos)
        {
            w.WriteStartObject();
            w.WriteString("name", info.Layer.Name);
            w.WriteString("op", OpNames.Of(info.Layer.Op));
            w.WriteString("kind", Kind(info));
            w.WriteString("signature", OpNames.Signature(info.Layer.Op));
            w.WriteStartArray("inputs");
            foreach (var x in info.Layer.Inputs) w.WriteStringValue(x);
            w.WriteEndArray();
            w.WriteStartArray("output_shape");
            w.WriteNumberValue(info.OutputShape.Height);
            w.WriteNumberValue(info.OutputShape.Width);
            w.WriteNumberValue(info.OutputShape.Channels);
            w.WriteEndArray();
            w.WriteNumber("params", info.Params);
            w.WriteNumber("macs", info.Macs);
            w.WriteNumber("weight_bytes", info.WeightBytesInt8);
            w.WriteNumber("activation_bytes", info.OutputBytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
