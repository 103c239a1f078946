using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using NasCluster.Cost.V1;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.EvaluatorNode.Service;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.Tests.Onnx;
using Fidelity = NasCluster.Cost.V1.Fidelity;
using WireBound = NasCluster.Cost.V1.Bound;

namespace NasCluster.EvaluatorNode.Tests.Service;

/// <summary>
/// The cost service over a real HTTP/2 connection: every form of request prices to the numbers the cost
/// model gives in-process, and every way a client can get it wrong is a status that names the problem.
/// </summary>
public sealed class CostServiceTests
{
    private const string Space = "mnv2-edgetpu-classification";

    private static CostReport Local(Network n, string preset = "pixel6", NasCluster.Shared.Protocol.Fidelity f = NasCluster.Shared.Protocol.Fidelity.Analytical) =>
        CostModel.Estimate(n, HardwarePresets.Get(preset), f, new LayerCostCache());

    private static void AssertSame(CostReport expected, CostResult actual)
    {
        Assert.Equal(expected.LatencyMs, actual.LatencyMs);
        Assert.Equal(expected.EnergyMj, actual.EnergyMj);
        Assert.Equal(expected.PowerW, actual.PowerW);
        Assert.Equal(expected.Utilization, actual.Utilization);
        Assert.Equal(expected.Params, actual.Params);
        Assert.Equal(expected.Macs, actual.Macs);
        Assert.Equal(expected.CachedWeightBytes, actual.CachedWeightBytes);
        Assert.Equal(expected.StreamedWeightBytes, actual.StreamedWeightBytes);
        Assert.Equal(expected.SimulatedMs, actual.SimulatedMs);
        Assert.Equal(expected.Host.TotalMs, actual.Host.TotalMs);
        Assert.Equal(expected.Host.CpuMs, actual.Host.CpuMs);
        Assert.Equal(expected.Segments.Select(s => (s.Device, s.FirstLayer, s.LastLayer, s.Layers)),
            actual.Segments.Select(s => (s.Device, s.FirstLayer, s.LastLayer, s.Layers)));
    }

    [Fact]
    public async Task Capabilities_list_the_simulator_version_presets_with_fingerprints_ops_spaces_and_limits()
    {
        await using var host = await ServiceHost.Start(new CostServiceLimits { MaxRequestBytes = 1 << 20, MaxBatchItems = 77 });
        var c = await host.Client.GetCapabilitiesAsync(new GetCapabilitiesRequest());
        Assert.Equal(CostModel.Version, c.SimulatorVersion);
        Assert.Equal(HardwarePresets.Names, c.Hardware.Select(h => h.Name));
        Assert.Equal(HardwareFingerprint.Of(HardwarePresets.Get("pixel6")), c.Hardware.Single(h => h.Name == "pixel6").Fingerprint);
        Assert.True(c.Hardware.Single(h => h.Name == "pixel6").Calibrated);
        Assert.Contains("conv2d", c.Ops);
        Assert.Contains("Conv", c.OnnxOps);
        Assert.Contains("HardSwish", c.OnnxOps);
        Assert.Contains(Space, c.BuiltInSpaces);
        Assert.Equal((1 << 20, 77), ((int)c.MaxRequestBytes, c.MaxBatchItems));
        Assert.Equal([Fidelity.Analytical, Fidelity.Detailed], c.Fidelities);
    }

    [Fact]
    public async Task An_arch_json_prices_to_the_cost_models_numbers_with_layers_on_request_and_from_the_cache_the_second_time()
    {
        await using var host = await ServiceHost.Start();
        var net = ModelZoo.Build("mobilenet-v2");
        var expected = Local(net);

        var first = (await host.Client.EvaluateAsync(Requests.Arch(ArchJson.Write(net)))).Result;
        AssertSame(expected, first);
        Assert.Equal(net.Hash, first.ArchitectureHash);
        Assert.Equal(CostModel.Version, first.SimulatorVersion);
        Assert.Equal(HardwareFingerprint.Of(HardwarePresets.Get("pixel6")), first.HardwareFingerprint);
        Assert.False(first.Cached);
        Assert.Empty(first.Layers);

        var second = (await host.Client.EvaluateAsync(Requests.Arch(ArchJson.Write(net), layers: true))).Result;
        Assert.True(second.Cached);
        AssertSame(expected, second);
        Assert.Equal(expected.Layers.Count, second.Layers.Count);
        Assert.Equal(expected.Layers.Select(l => l.Name), second.Layers.Select(l => l.Name));
        Assert.Equal(expected.Layers.Select(l => l.LatencyMs), second.Layers.Select(l => l.LatencyMs));
        Assert.Equal(expected.Layers.Select(l => CostReportWire.Name(l.Bound)), second.Layers.Select(l => Bound(l.Bound)));
        Assert.All(second.Layers, l => Assert.NotEqual(WireBound.Unspecified, l.Bound));
        // Each layer's geometry is the IR's: the stem a full 3×3 stride-2 conv, a depthwise conv one group per
        // channel, layers without a kernel zero.
        var byName = net.Layers.ToDictionary(l => l.Name, l => l.Op);
        Assert.All(second.Layers, l =>
        {
            var geometry = (l.KernelH, l.KernelW, l.Stride, l.Groups);
            Assert.Equal(byName[l.Name] switch
            {
                Conv2DOp c => (c.KernelH, c.KernelW, c.Stride, c.Groups),
                PoolOp p => (p.Kernel, p.Kernel, p.Stride, 0),
                _ => (0, 0, 0, 0),
            }, geometry);
        });
        Assert.Equal((3, 3, 2, 1), second.Layers.Where(l => l.Name == "stem").Select(l => (l.KernelH, l.KernelW, l.Stride, l.Groups)).Single());
        Assert.Contains(second.Layers, l => l.Op == "depthwise" && l.Groups > 1 && l.KernelH == 3);
        Assert.Equal(1, host.InProcess.Computed);
    }

    private static string Bound(WireBound b) => b switch
    {
        WireBound.Compute => "compute",
        WireBound.ActivationBandwidth => "activation bandwidth",
        WireBound.WeightLoad => "weight load",
        WireBound.OffChip => "off-chip",
        WireBound.Overhead => "overhead",
        _ => "?",
    };

    [Fact]
    public async Task A_space_candidate_by_decision_names_by_indices_and_in_an_inline_space_is_the_same_network_and_price()
    {
        await using var host = await ServiceHost.Start();
        var space = BuiltInSpaces.Load(Space);
        var candidate = space.Sample(new DeterministicRng(7));
        var net = space.Build(candidate);
        var expected = Local(net);

        var byIndex = (await host.Client.EvaluateAsync(Requests.Indices(Space, candidate.Vector))).Result;
        AssertSame(expected, byIndex);
        Assert.Equal(net.Hash, byIndex.ArchitectureHash);

        var named = new SpaceCandidate { SpaceJson = BuiltInSpaces.Text(Space) };
        for (var i = 0; i < space.Decisions.Length; i++) named.Decisions[space.Decisions[i].Name] = Value(candidate.Values[i]);
        var byName = (await host.Client.EvaluateAsync(new EvaluateRequest { Network = new NetworkSource { Candidate = named } })).Result;
        Assert.Equal(net.Hash, byName.ArchitectureHash);
        Assert.True(byName.Cached); // the same entity as the first request: same hardware, same architecture
        AssertSame(expected, byName);
        Assert.Equal(HardwarePresets.Default, byName.Hardware);
    }

    internal static DecisionValue Value(ChoiceValue v) => v.Kind switch
    {
        ChoiceKind.Integer => new DecisionValue { Integer = v.AsInteger!.Value },
        ChoiceKind.Real => new DecisionValue { Real = v.AsDouble },
        _ => new DecisionValue { Text = v.AsText },
    };

    [Fact]
    public async Task Zoo_models_onnx_bytes_inline_hardware_and_detailed_fidelity_price_like_the_cost_model()
    {
        await using var host = await ServiceHost.Start();
        AssertSame(Local(ModelZoo.Build("resnet-50"), "coral-pcie"), (await host.Client.EvaluateAsync(Requests.Zoo("resnet-50", "coral-pcie"))).Result);

        var onnx = OnnxGraphs.SmallCnn();
        var fromOnnx = (await host.Client.EvaluateAsync(new EvaluateRequest { Network = new NetworkSource { OnnxModel = ByteString.CopyFrom(onnx) } })).Result;
        AssertSame(Local(NasCluster.Shared.Onnx.OnnxImporter.Read(onnx, "onnx")), fromOnnx);

        // Ops the accelerator cannot run price on the host CPU instead of failing; the answer carries the split.
        var withHostOps = OnnxGraphs.Image(3, 16, 16).Conv("image", "c", 8, 3, 3, pad: 1).Node("Erf", ["c"], ["e"])
            .Node("ArgMax", ["e"], ["label"], OnnxGraphs.Int("axis", 1)).Output("label").Bytes();
        var split = (await host.Client.EvaluateAsync(new EvaluateRequest
        {
            Network = new NetworkSource { OnnxModel = ByteString.CopyFrom(withHostOps) },
            Hardware = new HardwareSource { Preset = "coral-usb3" },
        })).Result;
        AssertSame(Local(NasCluster.Shared.Onnx.OnnxImporter.Read(withHostOps, "onnx"), "coral-usb3"), split);
        Assert.Equal(["tpu", "cpu"], split.Segments.Select(s => s.Device));
        Assert.True(split.Host.CpuMs > 0);

        const string hardware = """{"format": "nascluster-hardware", "version": 1, "base": "pixel6", "name": "pixel6-wide", "pe_mem_kib": 512}""";
        var net = ModelZoo.Build("mobilenet-edgetpu");
        var inline = (await host.Client.EvaluateAsync(new EvaluateRequest
        {
            Network = new NetworkSource { ZooModel = "mobilenet-edgetpu" },
            Hardware = new HardwareSource { HardwareJson = hardware },
        })).Result;
        var hw = HardwareFile.Parse(hardware);
        Assert.Equal(HardwareFingerprint.Of(hw), inline.HardwareFingerprint);
        Assert.NotEqual(HardwareFingerprint.Of(HardwarePresets.Get("pixel6")), inline.HardwareFingerprint);
        AssertSame(CostModel.Estimate(net, hw, cache: new LayerCostCache()), inline);

        var detailedRequest = Requests.Arch(ArchJson.Write(net), fidelity: Fidelity.Detailed);
        var detailed = (await host.Client.EvaluateAsync(detailedRequest)).Result;
        Assert.Equal(Fidelity.Detailed, detailed.Fidelity);
        Assert.False(detailed.Cached); // a detailed result is its own entity, never the analytical one
        AssertSame(Local(net, f: NasCluster.Shared.Protocol.Fidelity.Detailed), detailed);
    }

    [Theory]
    [InlineData("unknown-preset", "hardware.preset", "unknown hardware preset 'tpu9000'")]
    [InlineData("bad-hardware-json", "hardware.hardware_json", "")]
    [InlineData("no-network", "network", "required: one of arch_json")]
    [InlineData("bad-arch-json", "network.arch_json", "")]
    [InlineData("unknown-op", "network.arch_json", "teleport")]
    [InlineData("impossible-network", "network.arch_json", "impossible network")]
    [InlineData("unknown-zoo", "network.zoo_model", "no zoo model named 'resnet-9000'")]
    [InlineData("unknown-space", "network.candidate.built_in_space", "no built-in space named 'nope'")]
    [InlineData("bad-inline-space", "network.candidate.space_json", "")]
    [InlineData("unknown-decision", "network.candidate.decisions", "warp_factor")]
    [InlineData("decision-out-of-choices", "network.candidate.decisions.stem_kernel", "")]
    [InlineData("wrong-index-count", "network.candidate.choice_indices", "")]
    [InlineData("both-forms", "network.candidate", "not both")]
    [InlineData("no-decisions", "network.candidate", "required: decisions")]
    [InlineData("undecodable-onnx", "network.onnx_model", "")]
    [InlineData("unsupported-onnx-op", "network.onnx_model", "LSTM")]
    [InlineData("unmappable", "network", "cannot be priced on pixel6")]
    [InlineData("unknown-fidelity", "fidelity", "unknown fidelity 9")]
    public async Task A_bad_request_is_invalid_argument_naming_the_field_and_the_reason(string name, string field, string reason)
    {
        await using var host = await ServiceHost.Start();
        var request = Bad(name);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await host.Client.EvaluateAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(field, e.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(reason, e.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", e.Status.Detail, StringComparison.Ordinal);

        // The server goes on answering.
        Assert.Equal(ModelZoo.Build("mobilenet-v2").Hash, (await host.Client.EvaluateAsync(Requests.Zoo("mobilenet-v2"))).Result.ArchitectureHash);
    }

    internal static EvaluateRequest Bad(string name)
    {
        var good = ArchJson.Write(ModelZoo.Build("mobilenet-v2"));
        var space = BuiltInSpaces.Load(Space);
        var sample = space.Sample(new DeterministicRng(3));
        SpaceCandidate Named(Action<SpaceCandidate> change)
        {
            var c = new SpaceCandidate { BuiltInSpace = Space };
            for (var i = 0; i < space.Decisions.Length; i++) c.Decisions[space.Decisions[i].Name] = Value(sample.Values[i]);
            change(c);
            return c;
        }
        EvaluateRequest Candidate(SpaceCandidate c) => new() { Network = new NetworkSource { Candidate = c } };
        return name switch
        {
            "unknown-preset" => Requests.Arch(good, preset: "tpu9000"),
            "bad-hardware-json" => new EvaluateRequest { Network = new NetworkSource { ArchJson = good }, Hardware = new HardwareSource { HardwareJson = "{\"base\": 3" } },
            "no-network" => new EvaluateRequest(),
            "bad-arch-json" => Requests.Arch("{\"format\": \"nascluster-arch\", \"layers\": [}"),
            "unknown-op" => Requests.Arch(good.Replace("\"op\": \"conv2d\"", "\"op\": \"teleport\"", StringComparison.Ordinal)),
            "impossible-network" => Requests.Arch("""
                {"format": "nascluster-arch", "version": 1, "name": "mismatch", "layers": [
                  {"name": "input", "op": "input", "shape": [8, 8, 3]},
                  {"name": "conv", "op": "conv2d", "inputs": ["input"], "filters": 4, "kernel": [3, 3]},
                  {"name": "sum", "op": "add", "inputs": ["input", "conv"]}],
                 "outputs": ["sum"]}
                """),
            "unknown-zoo" => Requests.Zoo("resnet-9000"),
            "unknown-space" => Candidate(new SpaceCandidate { BuiltInSpace = "nope", ChoiceIndices = { 0 } }),
            "bad-inline-space" => Candidate(new SpaceCandidate { SpaceJson = "{\"format\": \"nascluster-space\", \"version\": 1}", ChoiceIndices = { 0 } }),
            "unknown-decision" => Candidate(Named(c => c.Decisions["warp_factor"] = new DecisionValue { Integer = 9 })),
            "decision-out-of-choices" => Candidate(Named(c => c.Decisions["stem_kernel"] = new DecisionValue { Integer = 11 })),
            "wrong-index-count" => Requests.Indices(Space, [0, 1]),
            "both-forms" => Candidate(Named(c => c.ChoiceIndices.Add(0))),
            "no-decisions" => Candidate(new SpaceCandidate { BuiltInSpace = Space }),
            "undecodable-onnx" => new EvaluateRequest { Network = new NetworkSource { OnnxModel = ByteString.CopyFrom([0x0a, 0xff, 0xff, 0x01, 0x02]) } },
            "unsupported-onnx-op" => new EvaluateRequest
            {
                Network = new NetworkSource
                {
                    OnnxModel = ByteString.CopyFrom(OnnxGraphs.Image(3, 8, 8).Node("LSTM", ["image"], ["y"]).Output("y").Bytes()),
                },
            },
            "unmappable" => Requests.Arch(ArchJson.Write(ModelZoo.Build("vgg-19", 1024))),
            "unknown-fidelity" => Requests.Arch(good, fidelity: (Fidelity)9),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }
}
