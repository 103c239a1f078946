using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Cli;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Onnx;
using NasCluster.TrainerNode.Torch;
using NasCluster.TrainerNode.Training;
using TorchSharp;
using Padding = NasCluster.Shared.Architecture.Padding;

namespace NasCluster.Cluster.Tests.Export;

/// <summary>
/// ONNX written from the IR: ONNX Runtime computes what TorchSharp computes with the same weights (batch
/// norm statistics included), ONNX → IR gives back the architecture hash, and Debian's python3-onnx checker
/// accepts the file; <c>nascluster export</c> writes arch.json, ONNX and a model card per chosen trial, and
/// refuses bad requests with one line, exit 2 and nothing written.
/// </summary>
public sealed class ExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nascluster-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    /// <summary>
    /// Every op the exporter writes, with odd sizes so "same" padding is asymmetric. With
    /// <paramref name="fusedReluOnly"/> the activations fused into convs are ReLU / ReLU6 only: the ones the
    /// importer (like the Edge TPU compiler) fuses back, so the hash survives the round trip.
    /// </summary>
    private static Network EveryOp(bool fusedReluOnly = false)
    {
        var b = new NetworkBuilder("every-op");
        var x = b.Input(33, 31, 3);
        var stem = b.Conv(x, 16, 3, stride: 2, activation: ActivationKind.Relu6, name: "stem");
        var dw = b.Depthwise(stem, 5, stride: 2, name: "dw");
        var group = b.Conv(dw, 16, 3, groups: 4, activation: fusedReluOnly ? ActivationKind.Relu : ActivationKind.HardSwish, name: "group");
        var valid = b.Conv(group, 16, 3, padding: Padding.Valid, activation: ActivationKind.None, bias: true, batchNorm: false, name: "valid");
        var pooled = b.Pool(group, PoolKind.Max, 3, 1, Padding.Valid, name: "maxpool");
        var sum = b.Sum(ActivationKind.Relu, "residual", valid, pooled);
        var avg = b.Pool(sum, PoolKind.Average, 3, 2, name: "avgpool");
        var se = b.GlobalPool(avg, name: "squeeze");
        var fc = b.Dense(se, 8, ActivationKind.Relu, name: "se-reduce");
        var gate = b.Dense(fc, 16, name: "se-expand");
        var sig = b.Activation(gate, ActivationKind.HardSigmoid, name: "gate");
        var scaled = b.Multiply("excite", avg, sig);
        var cat = b.Concat("cat", scaled, b.Conv(avg, 8, 1, activation: fusedReluOnly ? ActivationKind.Relu6 : ActivationKind.Sigmoid, name: "side"));
        var head = b.GlobalPool(cat, name: "pool");
        return b.Build(b.Dense(head, 10, name: "logits"));
    }

    private static float[] Torch(IrModule module, float[] input, long[] shape)
    {
        module.eval();
        using var _ = torch.no_grad();
        using var x = torch.tensor(input, shape);
        using var y = module.forward(x);
        return y.contiguous().data<float>().ToArray();
    }

    private static float[] Ort(byte[] onnx, float[] input, int[] shape)
    {
        using var session = new InferenceSession(onnx);
        var name = session.InputMetadata.Keys.Single();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(input, shape))]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    private static float[] RandomInput(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Fact]
    public void Onnx_runtime_computes_what_torchsharp_computes_with_the_same_weights_and_the_importer_gives_back_the_hash()
    {
        var net = EveryOp();
        using var module = TrainingLoop.Build(net, 11);
        // Batch-norm statistics and affine parameters away from their identity initialisation, so they are really tested.
        using (torch.no_grad())
        {
            var g = new torch.Generator(5);
            foreach (var (name, t) in module.state_dict())
                if (name.Contains("_bn.", StringComparison.Ordinal) && t.dtype == torch.ScalarType.Float32)
                    t.copy_(name.EndsWith("running_var", StringComparison.Ordinal) ? torch.rand(t.shape, generator: g) + 0.5 : torch.randn(t.shape, generator: g) * 0.3);
        }
        var weights = IrWeights.Of(module);
        var onnx = OnnxExporter.Export(net, n => weights.GetValueOrDefault(n));

        var input = RandomInput(2 * 3 * 33 * 31, 3);
        var expected = Torch(module, input, [2, 3, 33, 31]);
        var actual = Ort(onnx, input, [2, 3, 33, 31]);
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.Item1 - p.Item2));
        Assert.True(worst < 1e-4, $"largest difference {worst}");

        // A hard-swish or sigmoid fused into a conv comes back as its own layer (same params and MACs, another
        // hash); with ReLU / ReLU6 fused, as every built-in space's networks, the hash itself comes back.
        var back = OnnxImporter.Read(onnx, "exported");
        Assert.Equal((net.Params, net.Macs), (back.Params, back.Macs));
        Assert.NotEqual(net.Hash, back.Hash);
        var relu = EveryOp(fusedReluOnly: true);
        using var reluModule = TrainingLoop.Build(relu, 3);
        var reluWeights = IrWeights.Of(reluModule);
        Assert.Equal(relu.Hash, OnnxImporter.Read(OnnxExporter.Export(relu, n => reluWeights.GetValueOrDefault(n)), "exported").Hash);
    }

    [Fact]
    public void A_segmentation_proxy_with_resizes_and_weighted_fusions_computes_the_same_in_onnx_runtime()
    {
        var space = NasCluster.Shared.SearchSpace.BuiltInSpaces.Load("autoseg-edgetpu");
        var candidate = space.Build(space.Sample(new NasCluster.Shared.Util.DeterministicRng(2)));
        var net = NasCluster.TrainerNode.Proxy.ProxyScaling.Scale(candidate,
            NasCluster.TrainerNode.Proxy.ProxySpec.Default with { Task = NasCluster.TrainerNode.Proxy.ProxyTask.Segmentation, Resolution = 64, Classes = 11 });
        Assert.Contains(net.Layers, l => l.Op is ResizeOp { Mode: ResizeMode.Nearest });
        Assert.Contains(net.Layers, l => l.Op is ResizeOp { Mode: ResizeMode.Bilinear });
        Assert.Contains(net.Layers, l => l.Op is WeightedAddOp);
        using var module = TrainingLoop.Build(net, 4);
        using (torch.no_grad())
        {
            // Fusion weights away from 1, one of them negative (clipped to 0 by the fusion), so the folding is really tested.
            var g = new torch.Generator(9);
            foreach (var (name, p) in module.named_parameters())
                if (name.EndsWith("_fusion", StringComparison.Ordinal)) p.copy_(torch.rand(p.shape, generator: g) * 2 - 0.3);
        }
        var weights = IrWeights.Of(module);
        var onnx = OnnxExporter.Export(net, n => weights.GetValueOrDefault(n));
        var input = RandomInput(64 * 64, 8);
        var expected = Torch(module, input, [1, 1, 64, 64]);
        var actual = Ort(onnx, input, [1, 1, 64, 64]);
        Assert.Equal(11 * 64 * 64, actual.Length);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.Item1 - p.Item2));
        Assert.True(worst < 1e-4, $"largest difference {worst}");
    }

    [Fact]
    public void A_missing_or_mis_sized_weight_and_an_op_it_cannot_write_are_named()
    {
        var net = EveryOp();
        using var module = TrainingLoop.Build(net, 1);
        var weights = IrWeights.Of(module);
        var missing = Assert.Throws<NasCluster.Shared.Util.NasInputException>(() => OnnxExporter.Export(net, n => n == "l1_conv.weight" ? null : weights.GetValueOrDefault(n)));
        Assert.Contains("layer 'stem'", missing.Message);
        Assert.Contains("l1_conv.weight", missing.Message);
        var small = Assert.Throws<NasCluster.Shared.Util.NasInputException>(() => OnnxExporter.Export(net, n => n == "l1_conv.weight" ? new float[3] : weights.GetValueOrDefault(n)));
        Assert.Contains("[16, 3, 3, 3]", small.Message);
        var nlp = NasCluster.Shared.Zoo.ModelZoo.Build("mobilebert");
        var refused = Assert.Throws<NasCluster.Shared.Util.NasInputException>(() => OnnxExporter.Export(nlp, _ => null));
        Assert.Contains("does not write", refused.Message);
    }

    [Fact]
    public void Export_writes_arch_onnx_and_a_card_per_chosen_trial_whose_onnx_runs_checks_and_reads_back_to_the_trial()
    {
        var db = Path.Combine(_dir, "x.db");
        Assert.Equal(0, Cli("search", "--space", "mnv2-edgetpu-classification", "--name", "exp", "--trials", "12", "--batch", "6", "--quality", "synthetic", "--db", db).Code);
        var status = JsonDocument.Parse(Cli("status", "exp", "--db", db, "--json").Out).RootElement;
        var best = status.GetProperty("best").GetProperty("id").GetInt32();
        var r = Cli("export", "exp", "--trial", "best", "--db", db);
        Assert.True(r.Code == 0, r.Err);
        var folder = Path.Combine(_dir, "exp-export", $"exp-trial{best}");
        Assert.Contains(folder, r.Out);
        var hash = status.GetProperty("trials")[best].GetProperty("hash").GetString();
        Assert.Equal(hash, ArchJson.ReadFile(Path.Combine(folder, "arch.json")).Hash);
        var onnx = File.ReadAllBytes(Path.Combine(folder, "model.onnx"));
        Assert.Equal(hash, OnnxImporter.Read(onnx, "exported").Hash);

        var card = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model-card.json"))).RootElement;
        Assert.Equal(best, card.GetProperty("trial").GetInt32());
        Assert.Equal(status.GetProperty("best").GetProperty("latency_ms").GetDouble(), card.GetProperty("metrics").GetProperty("latency_ms").GetDouble());
        Assert.Equal(status.GetProperty("hardware").GetString(), card.GetProperty("provenance").GetProperty("hardware").GetString());
        Assert.Equal(85, card.GetProperty("decisions").EnumerateObject().Count());
        Assert.Equal(hash, card.GetProperty("onnx").GetProperty("reads_back_as").GetString());
        Assert.Contains(card.GetProperty("files").EnumerateArray(), f => f.GetProperty("file").GetString() == "model.onnx"
            && f.GetProperty("sha256").GetString() == Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnx)));
        Assert.Contains("## Decisions", File.ReadAllText(Path.Combine(folder, "model-card.md")));

        // The full-size network at 224×224 runs in ONNX Runtime to TorchSharp's numbers with the same (seeded) weights.
        var net = ArchJson.ReadFile(Path.Combine(folder, "arch.json"));
        using var module = TrainingLoop.Build(net, 0);
        var input = RandomInput(3 * 224 * 224, 9);
        var expected = Torch(module, input, [1, 3, 224, 224]);
        var actual = Ort(onnx, input, [1, 3, 224, 224]);
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.Item1 - p.Item2));
        Assert.True(worst < 1e-4, $"largest difference {worst}");

        // Debian's python3-onnx (1.12, opset ≤ 17) accepts it with the full check.
        var check = Process.Start(new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { "-c", "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.opset_import[0].version)", Path.Combine(folder, "model.onnx") },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = check.StandardOutput.ReadToEnd();
        var stderr = check.StandardError.ReadToEnd();
        check.WaitForExit();
        Assert.True(check.ExitCode == 0, stderr);
        Assert.Equal("17", stdout.Trim());

        // The Pareto front, arch only.
        var pareto = Cli("export", "exp", "--trial", "pareto", "--format", "arch", "--db", db, "--out", Path.Combine(_dir, "front"));
        Assert.True(pareto.Code == 0, pareto.Err);
        var front = status.GetProperty("pareto").EnumerateArray().Select(p => p.GetInt32()).ToList();
        Assert.Equal(front.Select(id => $"exp-trial{id}").Order(), Directory.GetDirectories(Path.Combine(_dir, "front")).Select(Path.GetFileName).Order());
        Assert.All(Directory.GetDirectories(Path.Combine(_dir, "front")), d => Assert.False(File.Exists(Path.Combine(d, "model.onnx"))));
    }

    [Fact]
    public void Bad_requests_are_one_line_exit_2_and_leave_nothing_behind()
    {
        var db = Path.Combine(_dir, "x.db");
        Assert.Equal(0, Cli("search", "--space", "mnv2-edgetpu-classification", "--name", "exp", "--trials", "6", "--batch", "6", "--quality", "synthetic", "--db", db).Code);
        var blocker = Path.Combine(_dir, "file");
        File.WriteAllText(blocker, "x");
        var before = Directory.GetFileSystemEntries(_dir, "*", SearchOption.AllDirectories).Order().ToList();
        string[][] cases =
        [
            ["export", "nope", "--db", db],
            ["export", "exp", "--trial", "99", "--db", db],
            ["export", "exp", "--trial", "first", "--db", db],
            ["export", "exp", "--format", "tflite", "--db", db],
            ["export", "exp", "--weights", "proxy", "--db", db],
            ["export", "exp", "--weights", "trained", "--db", db],
            ["export", "exp", "--db", db, "--out", Path.Combine(blocker, "sub")],
        ];
        foreach (var args in cases)
        {
            InProcessCli.AssertBadInput(Cli(args), string.Join(' ', args));
        }
        Assert.Contains("no proxy weights were kept", Cli("export", "exp", "--weights", "proxy", "--db", db).Err);
        Assert.Equal(before, Directory.GetFileSystemEntries(_dir, "*", SearchOption.AllDirectories).Order().ToList());
    }
}
