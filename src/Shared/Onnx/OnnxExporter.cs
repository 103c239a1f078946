using Google.Protobuf;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Util;
using Onnx;

namespace NasCluster.Shared.Onnx;

/// <summary>
/// Writes a network of the IR as an ONNX model (opset 17, NCHW, float32, inference form), the format a
/// chosen architecture leaves the project in. The graph is the IR's layers one for one — a conv with batch
/// norm is Conv + BatchNormalization, fused ReLU / ReLU6 follow as Relu / Clip — so that
/// <see cref="OnnxImporter"/> reads it back to the same architecture hash, and every "same" padding is
/// TensorFlow's (ONNX SAME_UPPER), so shapes and values equal the trainer's (IrModule) exactly.
/// Weights come from a source keyed by the trainer's parameter names (<c>l{i}_conv.weight</c>,
/// <c>l{i}_conv.bias</c>, <c>l{i}_bn.weight|bias|running_mean|running_var</c>, <c>l{i}_dense.weight|bias</c>,
/// i the layer's index): a trained or freshly initialised module exports as it is.
/// </summary>
public static class OnnxExporter
{
    public const int Opset = 17;

    /// <summary>Batch-norm epsilon of the trainer's BatchNorm2d (TorchSharp's default).</summary>
    public const float BatchNormEpsilon = 1e-5f;

    /// <param name="network">A single-input image network.</param>
    /// <param name="weights">The tensor of a parameter name (row-major, as PyTorch lays it out), or null if it has none.</param>
    /// <param name="producer">The model's producer_name.</param>
    /// <exception cref="NasInputException">An op the exporter does not write (named), or a missing or mis-sized weight.</exception>
    public static byte[] Export(Network network, Func<string, float[]?> weights, string producer = "nascluster")
    {
        var g = new GraphProto { Name = network.Name };
        var writer = new Writer(network, weights, g);
        writer.Write();
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = producer,
            ModelVersion = 1,
            DocString = $"{network.Name}; NasCluster architecture hash {network.Hash}",
            Graph = g,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "nascluster.architecture_hash", Value = network.Hash });
        return model.ToByteArray();
    }

    private sealed class Writer(Network network, Func<string, float[]?> weights, GraphProto g)
    {
        private int _constants;

        public void Write()
        {
            if (network.Outputs.Length != 1) throw new NasInputException($"'{network.Name}' has {network.Outputs.Length} outputs; the exporter writes single-output networks");
            for (var i = 0; i < network.Layers.Length; i++) Layer(i, network.Infos[i]);
            var output = network.Infos[network.IndexOf(network.Outputs[0])].OutputShape;
            g.Output.Add(Value(network.Outputs[0], output.Channels, output.Height, output.Width));
        }

        private void Layer(int i, LayerInfo info)
        {
            var layer = info.Layer;
            var inputs = layer.Inputs.ToArray();
            var x = info.InputShapes.Length > 0 ? info.InputShapes[0] : default;
            switch (layer.Op)
            {
                case InputOp input:
                    if (input.Kind != InputKind.Image) throw Unsupported(layer, "a token input (the NLP space)");
                    g.Input.Add(Value(layer.Name, input.Shape.Channels, input.Shape.Height, input.Shape.Width));
                    break;
                case Conv2DOp c:
                {
                    var channelsPerGroup = x.Channels / c.Groups;
                    var convInputs = new List<string> { inputs[0], Weight($"l{i}_conv.weight", [c.Filters, channelsPerGroup, c.KernelH, c.KernelW], layer) };
                    if (c.Bias) convInputs.Add(Weight($"l{i}_conv.bias", [c.Filters], layer));
                    var convOut = c.BatchNorm || c.Activation != ActivationKind.None ? layer.Name + "/conv" : layer.Name;
                    var node = Node("Conv", layer.Name + "/Conv", convInputs, convOut);
                    node.Attribute.Add(Ints("kernel_shape", c.KernelH, c.KernelW));
                    node.Attribute.Add(Ints("strides", c.Stride, c.Stride));
                    node.Attribute.Add(Ints("dilations", c.Dilation, c.Dilation));
                    node.Attribute.Add(Int("group", c.Groups));
                    node.Attribute.Add(Pads(c.Padding));
                    var last = convOut;
                    if (c.BatchNorm)
                    {
                        var bnOut = c.Activation == ActivationKind.None ? layer.Name : layer.Name + "/bn";
                        var bn = Node("BatchNormalization", layer.Name + "/BatchNormalization",
                            [last, Weight($"l{i}_bn.weight", [c.Filters], layer), Weight($"l{i}_bn.bias", [c.Filters], layer),
                                Weight($"l{i}_bn.running_mean", [c.Filters], layer), Weight($"l{i}_bn.running_var", [c.Filters], layer)], bnOut);
                        bn.Attribute.Add(Float("epsilon", BatchNormEpsilon));
                        last = bnOut;
                    }
                    Activation(layer, last, c.Activation);
                    break;
                }
                case DenseOp d:
                {
                    if (x.Height != 1 || x.Width != 1) throw Unsupported(layer, $"a dense layer applied at every position of a {x} map");
                    var flat = Node("Flatten", layer.Name + "/Flatten", [inputs[0]], layer.Name + "/flat");
                    flat.Attribute.Add(Int("axis", 1));
                    var gemmInputs = new List<string> { layer.Name + "/flat", Weight($"l{i}_dense.weight", [d.Units, x.Channels], layer) };
                    if (d.Bias) gemmInputs.Add(Weight($"l{i}_dense.bias", [d.Units], layer));
                    var gemm = Node("Gemm", layer.Name + "/Gemm", gemmInputs, layer.Name + "/gemm");
                    gemm.Attribute.Add(Int("transB", 1));
                    // The activation before the reshape back to (N, C, 1, 1), so the importer fuses it into the Gemm.
                    var activated = layer.Name + "/gemm";
                    if (d.Activation != ActivationKind.None)
                    {
                        activated = layer.Name + "/activated";
                        Activation(layer, layer.Name + "/gemm", d.Activation, output: activated);
                    }
                    Node("Reshape", layer.Name + "/Reshape", [activated, Int64s(layer.Name + "/shape", [0, d.Units, 1, 1])], layer.Name);
                    break;
                }
                case AddOp add:
                {
                    var sum = inputs[0];
                    for (var k = 1; k < inputs.Length; k++)
                    {
                        var target = k == inputs.Length - 1 && add.Activation == ActivationKind.None ? layer.Name : $"{layer.Name}/sum{k}";
                        Node("Add", $"{layer.Name}/Add{k}", [sum, inputs[k]], target);
                        sum = target;
                    }
                    Activation(layer, sum, add.Activation);
                    break;
                }
                case WeightedAddOp wa:
                {
                    // BiFPN's fast normalised fusion, sum_k relu(w_k) x_k / (sum_k relu(w_k) + 1e-4): the trained
                    // weights are constants at inference, so the coefficients are folded here (Mul by a scalar, then Add).
                    var w = weights($"l{i}_fusion") ?? throw new NasInputException($"layer '{layer.Name}': no weights 'l{i}_fusion' to export");
                    if (w.Length != inputs.Length)
                        throw new NasInputException($"layer '{layer.Name}': weights 'l{i}_fusion' have {w.Length} values, the layer fuses {inputs.Length} inputs");
                    var positive = w.Select(v => Math.Max(0f, v)).ToArray();
                    var total = positive.Sum() + 1e-4f;
                    string? sum = null;
                    for (var k = 0; k < inputs.Length; k++)
                    {
                        var scaled = $"{layer.Name}/scaled{k}";
                        Node("Mul", $"{layer.Name}/Mul{k}", [inputs[k], Scalar(layer.Name + "/coefficient", positive[k] / total)], scaled);
                        if (sum is null)
                        {
                            sum = scaled;
                            continue;
                        }
                        var target = k == inputs.Length - 1 && wa.Activation == ActivationKind.None ? layer.Name : $"{layer.Name}/sum{k}";
                        Node("Add", $"{layer.Name}/Add{k}", [sum, scaled], target);
                        sum = target;
                    }
                    Activation(layer, sum!, wa.Activation);
                    break;
                }
                case MultiplyOp:
                {
                    var product = inputs[0];
                    for (var k = 1; k < inputs.Length; k++)
                    {
                        var target = k == inputs.Length - 1 ? layer.Name : $"{layer.Name}/product{k}";
                        Node("Mul", $"{layer.Name}/Mul{k}", [product, inputs[k]], target);
                        product = target;
                    }
                    break;
                }
                case ConcatOp:
                    Node("Concat", layer.Name + "/Concat", inputs, layer.Name).Attribute.Add(Int("axis", 1));
                    break;
                case PoolOp p:
                {
                    var node = Node(p.Pool == PoolKind.Max ? "MaxPool" : "AveragePool", layer.Name + "/Pool", [inputs[0]], layer.Name);
                    node.Attribute.Add(Ints("kernel_shape", p.Kernel, p.Kernel));
                    node.Attribute.Add(Ints("strides", p.Stride, p.Stride));
                    node.Attribute.Add(Pads(p.Padding));
                    // TensorFlow leaves the padding out of an average (count_include_pad = 0, ONNX's default).
                    break;
                }
                case GlobalPoolOp gp:
                    Node(gp.Pool == PoolKind.Average ? "GlobalAveragePool" : "GlobalMaxPool", layer.Name + "/GlobalPool", [inputs[0]], layer.Name);
                    break;
                case ActivationOp a:
                    if (a.Activation == ActivationKind.None) Node("Identity", layer.Name + "/Identity", [inputs[0]], layer.Name);
                    else Activation(layer, inputs[0], a.Activation, standalone: true);
                    break;
                case FlattenOp when x.Height == 1 && x.Width == 1:
                    Node("Identity", layer.Name + "/Identity", [inputs[0]], layer.Name);
                    break;
                case ResizeOp r:
                {
                    var node = Node("Resize", layer.Name + "/Resize", [inputs[0], "", "", Int64s(layer.Name + "/sizes", [1, x.Channels, r.Height, r.Width])], layer.Name);
                    node.Attribute.Add(Str("mode", r.Mode == ResizeMode.Nearest ? "nearest" : "linear"));
                    node.Attribute.Add(Str("coordinate_transformation_mode", r.Mode == ResizeMode.Nearest ? "asymmetric" : "half_pixel"));
                    if (r.Mode == ResizeMode.Nearest) node.Attribute.Add(Str("nearest_mode", "floor"));
                    break;
                }
                default:
                    throw Unsupported(layer, OpNames.Of(layer.Op));
            }
        }

        /// <summary>The activation a layer fuses (or a standalone one), written after <paramref name="input"/> into the layer's output.</summary>
        private void Activation(Layer layer, string input, ActivationKind a, bool standalone = false, string? output = null)
        {
            var suffix = standalone ? "" : "/act";
            var to = output ?? layer.Name;
            switch (a)
            {
                case ActivationKind.None:
                    return;
                case ActivationKind.Relu:
                    Node("Relu", layer.Name + suffix + "/Relu", [input], to);
                    return;
                case ActivationKind.Relu6:
                    Node("Clip", layer.Name + suffix + "/Clip", [input, Scalar(layer.Name + "/min", 0), Scalar(layer.Name + "/max", 6)], to);
                    return;
                case ActivationKind.Sigmoid:
                    Node("Sigmoid", layer.Name + suffix + "/Sigmoid", [input], to);
                    return;
                case ActivationKind.HardSigmoid:
                    // PyTorch's hardsigmoid: relu6(x + 3) / 6 (ONNX's default alpha is 0.2).
                    var hs = Node("HardSigmoid", layer.Name + suffix + "/HardSigmoid", [input], to);
                    hs.Attribute.Add(Float("alpha", 1f / 6));
                    hs.Attribute.Add(Float("beta", 0.5f));
                    return;
                case ActivationKind.HardSwish:
                    Node("HardSwish", layer.Name + suffix + "/HardSwish", [input], to);
                    return;
                default:
                    throw Unsupported(layer, $"activation {a}");
            }
        }

        private NodeProto Node(string op, string name, IEnumerable<string> inputs, string output)
        {
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs);
            n.Output.Add(output);
            g.Node.Add(n);
            return n;
        }

        private string Weight(string name, long[] dims, Layer layer)
        {
            var values = weights(name) ?? throw new NasInputException($"layer '{layer.Name}': no weights '{name}' to export");
            var expected = dims.Aggregate(1L, (a, b) => a * b);
            if (values.Length != expected)
                throw new NasInputException($"layer '{layer.Name}': weights '{name}' have {values.Length} values, the layer needs [{string.Join(", ", dims)}] = {expected}");
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian");
            t.RawData = ByteString.CopyFrom(bytes);
            g.Initializer.Add(t);
            return name;
        }

        private string Scalar(string name, float value)
        {
            name = $"{name}#{_constants++}";
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.FloatData.Add(value);
            g.Initializer.Add(t);
            return name;
        }

        private string Int64s(string name, long[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.AddRange(values);
            g.Initializer.Add(t);
            return name;
        }

        private static ValueInfoProto Value(string name, int c, int h, int w)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
            foreach (var d in new[] { c, h, w }) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }

        /// <summary>
        /// TensorFlow's "same" is ONNX's SAME_UPPER (the odd pixel after): written as auto_pad, which the
        /// importer reads back as "same" even where no padding results (a 1 × 1 conv), so the hash survives.
        /// </summary>
        private static AttributeProto Pads(Architecture.Padding padding) =>
            Str("auto_pad", padding == Architecture.Padding.Same ? "SAME_UPPER" : "VALID");

        private static AttributeProto Ints(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

        private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

        private static AttributeProto Str(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

        private static NasInputException Unsupported(Layer layer, string what) =>
            new($"layer '{layer.Name}': the ONNX exporter does not write {what} yet (it writes the image ops the trainer builds: conv, dense on pooled features, add, multiply, concat, pools, activations, resize)");
    }
}
