using Google.Protobuf;
using Onnx;

namespace NasCluster.Tests.Onnx;

/// <summary>
/// Small ONNX models written in the test itself (OnnxSharp's schema classes), for the importer's rules and
/// errors and for the cost service's requests; the torchvision exports cover whole networks.
/// </summary>
internal sealed class OnnxGraphs
{
    private readonly GraphProto _g = new() { Name = "test" };

    public static OnnxGraphs Image(int channels, int height, int width, string name = "image")
    {
        var g = new OnnxGraphs();
        var dims = new TensorShapeProto();
        foreach (var d in new long[] { 1, channels, height, width }) dims.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        g._g.Input.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = dims } },
        });
        return g;
    }

    /// <summary>A conv with weights [cout, cin/groups, k, k] (zeros: only shapes matter).</summary>
    public OnnxGraphs Conv(string input, string output, int cout, int cin, int k, int stride = 1, int pad = 0, int groups = 1, bool bias = false)
    {
        Weights(output + ".w", cout, cin / groups, k, k);
        var inputs = new List<string> { input, output + ".w" };
        if (bias)
        {
            Weights(output + ".b", cout);
            inputs.Add(output + ".b");
        }
        return Node("Conv", [.. inputs], [output], Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad), Int("group", groups), Ints("kernel_shape", k, k));
    }

    public OnnxGraphs Weights(string name, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(new byte[4 * dims.Aggregate(1L, (a, b) => a * b)]);
        _g.Initializer.Add(t);
        return this;
    }

    public OnnxGraphs Longs(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        _g.Initializer.Add(t);
        return this;
    }

    public OnnxGraphs Floats(string name, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(values.Length);
        t.FloatData.AddRange(values);
        _g.Initializer.Add(t);
        return this;
    }

    public OnnxGraphs Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = outputs[0] };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        _g.Node.Add(n);
        return this;
    }

    public OnnxGraphs Output(string name)
    {
        _g.Output.Add(new ValueInfoProto { Name = name });
        return this;
    }

    public byte[] Bytes()
    {
        var model = new ModelProto { IrVersion = 8, Graph = _g, ProducerName = "nascluster-tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return model.ToByteArray();
    }

    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    public static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    public static AttributeProto Str(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };

    /// <summary>32×32 RGB → conv 3×3/2 (16) → ReLU → conv 1×1 (32) → global pool → flatten → dense 10.</summary>
    public static byte[] SmallCnn() => Image(3, 32, 32)
        .Conv("image", "c1", 16, 3, 3, stride: 2, pad: 1, bias: true)
        .Node("Relu", ["c1"], ["r1"])
        .Conv("r1", "c2", 32, 16, 1, bias: true)
        .Node("GlobalAveragePool", ["c2"], ["gap"])
        .Node("Flatten", ["gap"], ["flat"], Int("axis", 1))
        .Weights("fc.w", 10, 32).Weights("fc.b", 10)
        .Node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], Int("transB", 1))
        .Output("logits")
        .Bytes();
}
