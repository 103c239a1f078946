using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.Architecture;

/// <summary>
/// The <c>arch.json</c> file format: how an architecture leaves NasCluster (export, search results) and
/// comes back in (<c>estimate</c>, <c>proxy</c>). One layer per line so files diff well. Writing emits
/// every attribute, so <c>Read(Write(n))</c> equals <c>n</c> and <c>Write(Read(text))</c> equals
/// <c>text</c> for any text this writer produced; hand-written files may omit attributes that have
/// defaults (stride 1, dilation 1, same padding, groups 1, no bias, batch norm, no activation).
/// </summary>
public static class ArchJson
{
    public const string Format = "nascluster-arch";
    public const int Version = 1;

    public static string Write(Network network)
    {
        var sb = new StringBuilder(128 * network.Layers.Length);
        sb.Append("{\n");
        sb.Append($"  \"format\": {Str(Format)},\n");
        sb.Append($"  \"version\": {Version},\n");
        sb.Append($"  \"name\": {Str(network.Name)},\n");
        sb.Append("  \"layers\": [\n");
        for (var i = 0; i < network.Layers.Length; i++)
        {
            sb.Append("    ").Append(WriteLayer(network.Layers[i]));
            sb.Append(i + 1 < network.Layers.Length ? ",\n" : "\n");
        }
        sb.Append("  ],\n");
        sb.Append($"  \"outputs\": [{string.Join(", ", network.Outputs.Select(Str))}]\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    public static void WriteFile(Network network, string path) => File.WriteAllText(path, Write(network));

    public static Network ReadFile(string path) => Read(JsonNode.Load(path));

    public static Network Read(string text, string? file = null) => Read(JsonNode.Parse(text, file));

    public static Network Read(JsonNode root)
    {
        root.AllowOnly("format", "version", "name", "layers", "outputs");
        var format = root.Prop("format");
        if (format.AsString() != Format) throw format.Error($"expected \"{Format}\" (is this an arch.json file?)");
        var version = root.Prop("version");
        if (version.AsInt() != Version) throw version.Error($"unsupported version {version.AsInt()} (this build reads version {Version})");
        var name = root.TryProp("name", out var n) ? n.AsString() : Path.GetFileNameWithoutExtension(root.File ?? "network");
        var layerNodes = root.Prop("layers").Items();
        var layers = layerNodes.Select(ReadLayer).ToList();
        var outputsNode = root.Prop("outputs");
        var outputs = outputsNode.Items().Select(o => o.AsString()).ToList();
        try
        {
            return new Network(name, layers, outputs);
        }
        catch (InvalidNetworkException e)
        {
            var index = layers.FindIndex(l => l.Name == e.LayerName);
            throw e.At(root.File, index >= 0 ? $"$.layers[{index}]" : outputsNode.Path);
        }
    }

    /// <summary>A JSON string literal; plain names (the common case) skip the serializer.</summary>
    private static string Str(string s)
    {
        foreach (var c in s)
            if (c is < ' ' or '"' or '\\' or > '~' or '<' or '>' or '&' or '\'' or '+' or '`')
                return JsonSerializer.Serialize(s);
        return "\"" + s + "\"";
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string B(bool v) => v ? "true" : "false";

    private static string WriteLayer(Layer layer)
    {
        var parts = new List<string> { $"\"name\": {Str(layer.Name)}", $"\"op\": {Str(OpNames.Of(layer.Op))}" };
        if (layer.Op is not InputOp)
            parts.Add($"\"inputs\": [{string.Join(", ", layer.Inputs.Select(Str))}]");
        static string Act(ActivationKind a) => $"\"activation\": {Str(OpNames.Name(a))}";
        switch (layer.Op)
        {
            case InputOp x:
                parts.Add($"\"shape\": [{I(x.Shape.Height)}, {I(x.Shape.Width)}, {I(x.Shape.Channels)}]");
                parts.Add($"\"kind\": {Str(OpNames.Name(x.Kind))}");
                break;
            case Conv2DOp c:
                parts.Add($"\"filters\": {I(c.Filters)}");
                parts.Add($"\"kernel\": [{I(c.KernelH)}, {I(c.KernelW)}]");
                parts.Add($"\"stride\": {I(c.Stride)}");
                parts.Add($"\"dilation\": {I(c.Dilation)}");
                parts.Add($"\"padding\": {Str(OpNames.Name(c.Padding))}");
                parts.Add($"\"groups\": {I(c.Groups)}");
                parts.Add($"\"bias\": {B(c.Bias)}");
                parts.Add($"\"batch_norm\": {B(c.BatchNorm)}");
                parts.Add(Act(c.Activation));
                break;
            case DenseOp d:
                parts.Add($"\"units\": {I(d.Units)}");
                parts.Add($"\"bias\": {B(d.Bias)}");
                parts.Add(Act(d.Activation));
                break;
            case AddOp a:
                parts.Add(Act(a.Activation));
                break;
            case WeightedAddOp w:
                parts.Add(Act(w.Activation));
                break;
            case PoolOp p:
                parts.Add($"\"pool\": {Str(OpNames.Name(p.Pool))}");
                parts.Add($"\"kernel\": {I(p.Kernel)}");
                parts.Add($"\"stride\": {I(p.Stride)}");
                parts.Add($"\"padding\": {Str(OpNames.Name(p.Padding))}");
                break;
            case GlobalPoolOp g:
                parts.Add($"\"pool\": {Str(OpNames.Name(g.Pool))}");
                break;
            case ResizeOp r:
                parts.Add($"\"mode\": {Str(OpNames.Name(r.Mode))}");
                parts.Add($"\"size\": [{I(r.Height)}, {I(r.Width)}]");
                break;
            case ActivationOp a:
                parts.Add(Act(a.Activation));
                break;
            case ReshapeOp r:
                parts.Add($"\"shape\": [{I(r.Shape.Height)}, {I(r.Shape.Width)}, {I(r.Shape.Channels)}]");
                break;
            case MatMulOp m:
                parts.Add($"\"heads\": {I(m.Heads)}");
                parts.Add($"\"transpose_b\": {B(m.TransposeB)}");
                break;
            case SoftmaxOp s:
                parts.Add($"\"groups\": {I(s.Groups)}");
                break;
            case EmbeddingOp e:
                parts.Add($"\"vocabulary\": {I(e.Vocabulary)}");
                parts.Add($"\"dim\": {I(e.Dim)}");
                break;
            case HostOp h:
                parts.Add($"\"type\": {Str(h.Type)}");
                parts.Add($"\"channels\": {I(h.Channels)}");
                break;
            case MultiplyOp or ConcatOp or FlattenOp or LayerNormOp:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(layer), layer.Op.GetType().Name, "unknown op");
        }
        return "{" + string.Join(", ", parts) + "}";
    }

    private static Layer ReadLayer(JsonNode node)
    {
        node.ExpectObject();
        var name = node.Prop("name").AsString();
        var opNode = node.Prop("op");
        var opName = opNode.AsString();
        string[] common = ["name", "op", "inputs"];
        void Allow(params string[] extra) => node.AllowOnly([.. common, .. extra]);

        int Int(string key, int min, int? fallback = null)
        {
            if (node.TryProp(key, out var v)) return v.AsInt(min);
            return fallback ?? throw node.Error($"missing required key \"{key}\"");
        }
        bool Bool(string key, bool fallback) => node.TryProp(key, out var v) ? v.AsBool() : fallback;
        T Enum<T>(string key, T fallback, TryParser<T> parse, string choices)
        {
            if (!node.TryProp(key, out var v)) return fallback;
            return parse(v.AsString(), out var result) ? result : throw v.Error($"expected one of {choices}, got \"{v.AsString()}\"");
        }
        ActivationKind Activation() => Enum("activation", ActivationKind.None, OpNames.TryActivation, "none, relu, relu6, sigmoid, hard_sigmoid, hard_swish");
        int[] Ints(string key, int count)
        {
            var items = node.Prop(key).Items();
            if (items.Count != count) throw node.Prop(key).Error($"expected {count} integers, got {items.Count}");
            return items.Select(i => i.AsInt(1)).ToArray();
        }

        Op op;
        switch (opName)
        {
            case "input":
                Allow("shape", "kind");
                var s = Ints("shape", 3);
                op = new InputOp(new TensorShape(s[0], s[1], s[2]), Enum("kind", InputKind.Image, OpNames.TryInputKind, "image, tokens"));
                break;
            case "conv2d":
            {
                Allow("filters", "kernel", "stride", "dilation", "padding", "groups", "bias", "batch_norm", "activation");
                var kernelNode = node.Prop("kernel");
                var (kh, kw) = kernelNode.Kind == JsonValueKind.Number
                    ? (kernelNode.AsInt(1), kernelNode.AsInt(1))
                    : Ints("kernel", 2) is var k ? (k[0], k[1]) : default;
                op = new Conv2DOp(Int("filters", 1), kh, kw, Int("stride", 1, 1), Int("dilation", 1, 1),
                    Enum("padding", Padding.Same, OpNames.TryPadding, "same, valid"), Int("groups", 1, 1),
                    Bool("bias", false), Bool("batch_norm", true), Activation());
                break;
            }
            case "dense":
                Allow("units", "bias", "activation");
                op = new DenseOp(Int("units", 1), Bool("bias", true), Activation());
                break;
            case "add":
                Allow("activation");
                op = new AddOp(Activation());
                break;
            case "weighted_add":
                Allow("activation");
                op = new WeightedAddOp(Activation());
                break;
            case "multiply":
                Allow();
                op = new MultiplyOp();
                break;
            case "concat":
                Allow();
                op = new ConcatOp();
                break;
            case "pool":
                Allow("pool", "kernel", "stride", "padding");
                op = new PoolOp(Enum("pool", PoolKind.Max, OpNames.TryPool, "avg, max"), Int("kernel", 1), Int("stride", 1, 1),
                    Enum("padding", Padding.Same, OpNames.TryPadding, "same, valid"));
                break;
            case "global_pool":
                Allow("pool");
                op = new GlobalPoolOp(Enum("pool", PoolKind.Average, OpNames.TryPool, "avg, max"));
                break;
            case "resize":
                Allow("mode", "size");
                var size = Ints("size", 2);
                op = new ResizeOp(Enum("mode", ResizeMode.Bilinear, OpNames.TryResize, "bilinear, nearest"), size[0], size[1]);
                break;
            case "activation":
                Allow("activation");
                op = new ActivationOp(Activation());
                break;
            case "flatten":
                Allow();
                op = new FlattenOp();
                break;
            case "reshape":
                Allow("shape");
                var r = Ints("shape", 3);
                op = new ReshapeOp(new TensorShape(r[0], r[1], r[2]));
                break;
            case "matmul":
                Allow("heads", "transpose_b");
                op = new MatMulOp(Int("heads", 1, 1), Bool("transpose_b", false));
                break;
            case "softmax":
                Allow("groups");
                op = new SoftmaxOp(Int("groups", 1, 1));
                break;
            case "layer_norm":
                Allow();
                op = new LayerNormOp();
                break;
            case "embedding":
                Allow("vocabulary", "dim");
                op = new EmbeddingOp(Int("vocabulary", 1), Int("dim", 1));
                break;
            case "host_op":
            {
                Allow("type", "channels");
                var type = node.Prop("type");
                if (!OpNames.IsHostOpType(type.AsString())) throw type.Error($"a host op's type is an operator name (letters, digits, underscores), got \"{type.AsString()}\"");
                op = new HostOp(type.AsString(), Int("channels", 0, 0));
                break;
            }
            default:
                throw opNode.Error($"unknown op \"{opName}\" (known: {string.Join(", ", OpNames.All)})");
        }

        var inputs = ImmutableArray<string>.Empty;
        if (op is InputOp)
        {
            if (node.Has("inputs") && node.Prop("inputs").Items().Count > 0)
                throw node.Prop("inputs").Error("an input layer has no inputs");
        }
        else
        {
            inputs = node.Prop("inputs").Items().Select(i => i.AsString()).ToImmutableArray();
        }
        return new Layer(name, op, inputs);
    }

    private delegate bool TryParser<T>(string s, out T value);
}
