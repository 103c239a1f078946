using System.Diagnostics;
using System.Text.Json;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.Shared.Util;
using NasCluster.Tests.Onnx;
using static NasCluster.Tests.Onnx.OnnxGraphs;

namespace NasCluster.Shared.Tests.Onnx;

/// <summary>
/// ONNX files exported by Debian's PyTorch from torchvision's model definitions (no weights needed), once
/// per test run, with torchvision's own parameter counts and hook-counted MACs beside them.
/// </summary>
public sealed class TorchvisionExports : IDisposable
{
    public TorchvisionExports()
    {
        Directory = Path.Combine(Path.GetTempPath(), "nascluster-onnx-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        var script = Path.Combine(AppContext.BaseDirectory, "Onnx", "export_models.py");
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, Directory]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"exporting the torchvision models failed (needs Debian's python3-torch, python3-torchvision: scripts/install-deps.sh test):\n{err.Result}");
        Counts = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Directory, "counts.json")));
    }

    public string Directory { get; }

    public JsonDocument Counts { get; }

    public string File(string model) => Path.Combine(Directory, model + ".onnx");

    public void Dispose()
    {
        Counts.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

public sealed class OnnxImportTests(TorchvisionExports exports) : IClassFixture<TorchvisionExports>
{
    [Theory]
    [InlineData("resnet18")]
    [InlineData("mobilenet_v2")]
    [InlineData("mobilenet_v3_small")]
    [InlineData("squeezenet1_1")]
    [InlineData("efficientnet_b0")]
    [InlineData("ops")]
    public void Torchvision_exports_import_with_torchvisions_parameter_and_MAC_counts(string model)
    {
        var network = OnnxImporter.ReadFile(exports.File(model));
        var expected = exports.Counts.RootElement.GetProperty(model);
        var (params_, macs) = (expected.GetProperty("params").GetInt64(), expected.GetProperty("macs").GetInt64());
        // Torchvision counts a batch norm's scale and shift; folded into the conv it is one bias per channel.
        Assert.InRange(network.Params, params_ * 0.99, params_ * 1.01);
        Assert.InRange(network.Macs, macs * 0.99, macs * 1.01);
        Assert.Equal(model, network.Name);
        // The imported network is a valid IR network: it round-trips through arch.json with the same hash.
        Assert.Equal(network.Hash, ArchJson.Read(ArchJson.Write(network)).Hash);
    }

    [Fact]
    public void Batch_norm_and_relu6_fold_into_the_conv_and_se_gates_broadcast()
    {
        var mnv2 = OnnxImporter.ReadFile(exports.File("mobilenet_v2"));
        var convs = mnv2.Layers.Select(l => l.Op).OfType<Conv2DOp>().ToList();
        Assert.Equal(52, convs.Count);
        Assert.Equal(35, convs.Count(c => c.Activation == ActivationKind.Relu6)); // every Clip(0, 6) fused
        Assert.DoesNotContain(mnv2.Layers, l => l.Op is ActivationOp);
        Assert.Equal(17, convs.Count(c => c.Groups > 1 && c.Groups == c.Filters)); // the depthwise convs
        var mnv3 = OnnxImporter.ReadFile(exports.File("mobilenet_v3_small"));
        Assert.Equal(9, mnv3.Infos.Count(i => i.Layer.Op is MultiplyOp && i.InputShapes.Any(s => s.Height == 1 && s.Width == 1) && i.OutputShape.Height > 1));
        Assert.Contains(mnv3.Layers, l => l.Op is ActivationOp { Activation: ActivationKind.HardSwish });
        Assert.Contains(mnv3.Layers, l => l.Op is ActivationOp { Activation: ActivationKind.HardSigmoid });
    }

    [Fact]
    public void The_ops_model_covers_pad_resize_reduce_mean_matmul_and_softmax()
    {
        var n = OnnxImporter.ReadFile(exports.File("ops"));
        var ops = n.Layers.Select(l => l.Op).ToList();
        // F.pad(1) + a valid 3x3/2 stem on 64x64 is a 32x32 'same' conv.
        var stem = Assert.IsType<Conv2DOp>(ops[1]);
        Assert.Equal((Padding.Same, 2, ActivationKind.Relu6), (stem.Padding, stem.Stride, stem.Activation));
        Assert.Equal(new TensorShape(32, 32, 16), n.Infos[1].OutputShape);
        Assert.Contains(ops, o => o is ResizeOp { Mode: ResizeMode.Nearest, Height: 64 });
        Assert.Contains(ops, o => o is GlobalPoolOp { Pool: PoolKind.Average });
        Assert.Contains(ops, o => o is DenseOp { Units: 12, Bias: true }); // MatMul + Add(bias)
        Assert.Contains(ops, o => o is SoftmaxOp);
        Assert.Contains(ops, o => o is Conv2DOp { Dilation: 2, Groups: 32 });
    }

    [Fact]
    public void A_small_graph_written_here_imports_with_exact_shapes()
    {
        var n = OnnxImporter.Read(SmallCnn(), "small");
        Assert.Equal(["image", "c1", "c2", "gap", "logits"], n.Layers.Select(l => l.Name));
        Assert.Equal(new TensorShape(16, 16, 16), n.Infos[1].OutputShape);
        Assert.Equal(ActivationKind.Relu, ((Conv2DOp)n.Layers[1].Op).Activation);
        Assert.Equal(16L * 16 * 16 * 27 + 16L * 16 * 32 * 16 + 32 * 10, n.Macs);
        Assert.Equal(16 * 27 + 16 + 32 * 16 + 32 + 320 + 10, n.Params);
    }

    [Fact]
    public void Explicit_pads_map_to_same_or_valid_or_are_refused_by_name()
    {
        Network Conv(int pad, int k, int stride) =>
            OnnxImporter.Read(Image(3, 15, 15).Conv("image", "c", 8, 3, k, stride, pad).Output("c").Bytes(), "pads");
        Assert.Equal(Padding.Valid, ((Conv2DOp)Conv(0, 3, 1).Layers[1].Op).Padding);
        Assert.Equal(Padding.Same, ((Conv2DOp)Conv(1, 3, 1).Layers[1].Op).Padding);
        Assert.Equal(Padding.Same, ((Conv2DOp)Conv(2, 5, 2).Layers[1].Op).Padding);
        var e = Assert.ThrowsAny<NasInputException>(() => Conv(3, 3, 1));
        Assert.Contains("node 'c' (Conv)", e.Message);
        Assert.Contains("neither 'same' nor 'valid'", e.Message);
    }

    [Fact]
    public void Relu6_written_as_clip_with_constant_inputs_fuses_and_other_clips_are_refused()
    {
        byte[] Clip(float min, float max) => Image(3, 8, 8).Conv("image", "c", 4, 3, 1).Floats("lo", min).Floats("hi", max)
            .Node("Clip", ["c", "lo", "hi"], ["y"]).Output("y").Bytes();
        Assert.Equal(ActivationKind.Relu6, ((Conv2DOp)OnnxImporter.Read(Clip(0, 6), "clip").Layers[1].Op).Activation);
        var e = Assert.ThrowsAny<NasInputException>(() => OnnxImporter.Read(Clip(-1, 1), "clip"));
        Assert.Contains("Clip to [-1, 1] is not supported", e.Message);
    }

    [Fact]
    public void An_op_the_ir_does_not_know_is_named()
    {
        var bytes = Image(3, 8, 8).Conv("image", "c", 4, 3, 1).Node("Einsum", ["c"], ["t"]).Output("t").Bytes();
        var e = Assert.ThrowsAny<NasInputException>(() => OnnxImporter.Read(bytes, "einsum", "einsum.onnx"));
        Assert.Equal("einsum.onnx: node 't' (Einsum): operator Einsum is not supported by the importer", e.Message[..e.Message.IndexOf(" (supported", StringComparison.Ordinal)]);
    }

    [Fact]
    public void Element_wise_math_and_channel_reductions_the_ir_has_no_op_for_import_as_host_ops()
    {
        // A segmentation-like net: conv, tanh, the difference of two convs, and the per-pixel ArgMax that ends it.
        var bytes = Image(3, 16, 16)
            .Conv("image", "c1", 8, 3, 3, pad: 1)
            .Node("Tanh", ["c1"], ["t"])
            .Conv("t", "c2", 8, 8, 1)
            .Node("Sub", ["c2", "t"], ["d"])
            .Floats("two", 2f).Node("Pow", ["d", "two"], ["p"])
            .Node("ArgMax", ["p"], ["label"], Int("axis", 1), Int("keepdims", 1))
            .Output("label").Bytes();
        var n = OnnxImporter.Read(bytes, "seg");
        Assert.Equal(new HostOp("Tanh"), n.Layers.Single(l => l.Name == "t").Op);
        var sub = n.Layers.Single(l => l.Name == "d");
        Assert.Equal(new HostOp("Sub"), sub.Op);
        Assert.Equal<string>(["c2", "t"], sub.Inputs);
        Assert.Equal<string>(["d"], n.Layers.Single(l => l.Name == "p").Inputs); // the constant exponent is part of the op
        Assert.Equal(new HostOp("ArgMax", 1), n.Layers[^1].Op);
        Assert.Equal(new TensorShape(16, 16, 1), n.Infos[^1].OutputShape);

        byte[] Over(long axis) => Image(3, 8, 8).Conv("image", "c", 4, 3, 1).Node("ArgMax", ["c"], ["a"], Int("axis", axis)).Output("a").Bytes();
        var e = Assert.ThrowsAny<NasInputException>(() => OnnxImporter.Read(Over(2), "argmax"));
        Assert.Contains("node 'a' (ArgMax): ArgMax over axes [2] of a rank-4 tensor: only the channel (feature) axis (1) is supported", e.Message);
        Assert.Equal(new HostOp("ArgMax", 1), OnnxImporter.Read(Over(-3), "argmax").Layers[^1].Op);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("empty")]
    public void Bytes_that_are_not_an_onnx_model_are_refused_clearly(string kind)
    {
        var valid = SmallCnn();
        var bytes = kind switch
        {
            "garbage" => "this is not a model, just text\n"u8.ToArray(),
            "truncated" => valid[..(valid.Length / 2)],
            _ => [],
        };
        var e = Assert.ThrowsAny<NasInputException>(() => OnnxImporter.Read(bytes, "bad", "bad.onnx"));
        Assert.StartsWith("bad.onnx: not an ONNX model", e.Message);
    }

    [Fact]
    public void A_model_with_a_dynamic_input_size_is_refused_with_the_fix()
    {
        var g = Image(3, 8, 8).Conv("image", "c", 4, 3, 1).Output("c").Bytes();
        var model = global::Onnx.ModelProto.Parser.ParseFrom(g);
        model.Graph.Input[0].Type.TensorType.Shape.Dim[2] = new global::Onnx.TensorShapeProto.Types.Dimension { DimParam = "height" };
        var e = Assert.ThrowsAny<NasInputException>(() => OnnxImporter.Read(Google.Protobuf.MessageExtensions.ToByteArray(model), "dyn"));
        Assert.Contains("input 'image': the height must be a fixed number (got 'height')", e.Message);
    }
}
