using System.Text.Json;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Zoo;

namespace NasCluster.Coordinator.Tests.Cli;

public class EstimateCliTests
{
    [Theory]
    [InlineData("analytical")]
    [InlineData("detailed")]
    public void Estimate_json_has_the_fields_and_matches_the_cost_model(string fidelity)
    {
        var r = CliResult.Run("estimate", "mobilenet-edgetpu-v2-s", "--fidelity", fidelity, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        foreach (var key in new[] { "latency_ms", "energy_mj", "power_w", "utilization", "params", "macs", "cached_weight_bytes", "streamed_weight_bytes", "layers" })
            Assert.True(root.TryGetProperty(key, out _), key);
        var expected = CostModel.Estimate(ModelZoo.Build("mobilenet-edgetpu-v2-s"), HardwarePresets.Get("pixel6"),
            fidelity == "analytical" ? Fidelity.Analytical : Fidelity.Detailed);
        Assert.Equal(expected.LatencyMs, root.GetProperty("latency_ms").GetDouble(), 9);
        Assert.Equal(expected.EnergyMj, root.GetProperty("energy_mj").GetDouble(), 9);
        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        string[] bounds = ["compute", "activation bandwidth", "weight load", "off-chip", "overhead"];
        Assert.All(layers, l =>
        {
            foreach (var key in new[] { "name", "op", "latency_ms", "energy_uj", "utilization", "bound" }) Assert.True(l.TryGetProperty(key, out _), key);
            Assert.Contains(l.GetProperty("bound").GetString(), bounds);
        });
        Assert.Contains(layers, l => l.GetProperty("bound").GetString() == "activation bandwidth"); // the depthwise layers
    }

    [Fact]
    public void An_onnx_model_with_ops_the_accelerator_cannot_run_prices_with_its_segments()
    {
        using var dir = new TempDir();
        var file = dir.File("seg.onnx");
        File.WriteAllBytes(file, NasCluster.Tests.Onnx.OnnxGraphs.Image(3, 32, 32)
            .Conv("image", "c1", 16, 3, 3, pad: 1).Node("Tanh", ["c1"], ["t"]).Conv("t", "c2", 8, 16, 1)
            .Node("ArgMax", ["c2"], ["label"], NasCluster.Tests.Onnx.OnnxGraphs.Int("axis", 1)).Output("label").Bytes());
        string[] Devices(string hardware)
        {
            var r = CliResult.Run("estimate", file, "--hardware", hardware, "--json");
            Assert.Equal(0, r.ExitCode);
            var root = JsonDocument.Parse(r.Out).RootElement;
            Assert.True(root.GetProperty("cpu_ms").GetDouble() > 0);
            return [.. root.GetProperty("segments").EnumerateArray().Select(s => s.GetProperty("device").GetString()!)];
        }
        Assert.Equal(["tpu", "cpu", "tpu", "cpu"], Devices("pixel6")); // a delegate's segments
        Assert.Equal(["tpu", "cpu"], Devices("coral-usb3"));           // the Coral compiler partitions once
        var human = CliResult.Run("estimate", file, "--hardware", "coral-usb3");
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("segments", human.Out);
        Assert.Contains("cpu t … label", human.Out);
    }

    [Fact]
    public void Hardware_sensitivity_prints_json_and_refuses_bad_arguments()
    {
        var r = CliResult.Run("hardware", "sensitivity", "pixel6", "--figures", "static_fraction", "--candidates", "10", "--json");
        Assert.Equal(0, r.ExitCode);
        var root = JsonDocument.Parse(r.Out).RootElement;
        Assert.Equal("pixel6@2", root.GetProperty("hardware").GetString());
        Assert.True(root.GetProperty("findings").GetProperty("fused-late").GetBoolean());
        var rows = root.GetProperty("variations").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        Assert.All(rows, v => Assert.Equal(1.0, v.GetProperty("zoo_latency_tau").GetDouble()));
        Assert.Contains("static_fraction", root.GetProperty("not_pinned_by_calibration").EnumerateArray().Select(e => e.GetString()));
        var human = CliResult.Run("hardware", "sensitivity", "--figures", "static_fraction", "--candidates", "10");
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("Not pinned by the calibration", human.Out);
        CliResult.Run("hardware", "sensitivity", "--factor", "2").AssertBadInput("the factor must be between 0 and 1");
        CliResult.Run("hardware", "sensitivity", "--figures", "warp").AssertBadInput("unknown figure warp");
        CliResult.Run("hardware", "sensitivity", "nope").AssertBadInput("nope");
    }

    [Fact]
    public void Estimate_reads_arch_json_and_other_hardware()
    {
        using var dir = new TempDir();
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var net = space.Build(space.Sample(new NasCluster.Shared.Util.DeterministicRng(3)));
        var path = dir.File("candidate.arch.json");
        ArchJson.WriteFile(net, path);
        var pixel = JsonDocument.Parse(CliResult.Run("estimate", path, "--json").Out).RootElement;
        var coral = JsonDocument.Parse(CliResult.Run("estimate", path, "--hardware", "coral-usb3", "--json").Out).RootElement;
        Assert.Equal(net.Hash, pixel.GetProperty("hash").GetString());
        Assert.Equal("coral-usb3@2", coral.GetProperty("hardware").GetString());
        Assert.True(coral.GetProperty("latency_ms").GetDouble() > pixel.GetProperty("latency_ms").GetDouble());

        var human = CliResult.Run("estimate", "resnet-50", "--hardware", "coral-pcie");
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("streamed every inference", human.Out);
        Assert.Contains("off-chip", human.Out); // streamed layers wait on the host link
    }

    [Fact]
    public void Estimate_takes_a_custom_hardware_file()
    {
        using var dir = new TempDir();
        var hw = dir.File("slow-io.json");
        File.WriteAllText(hw, """{"format": "nascluster-hardware", "version": 1, "name": "slow-io", "base": "pixel6", "off_chip_gb_per_s": 1}""");
        var fast = JsonDocument.Parse(CliResult.Run("estimate", "resnet-50", "--json").Out).RootElement;
        var slow = JsonDocument.Parse(CliResult.Run("estimate", "resnet-50", "--hardware", hw, "--json").Out).RootElement;
        Assert.Equal("slow-io@1", slow.GetProperty("hardware").GetString());
        Assert.True(slow.GetProperty("latency_ms").GetDouble() > 2 * fast.GetProperty("latency_ms").GetDouble());
    }

    [Fact]
    public void Bad_estimate_input_exits_2_with_one_line()
    {
        CliResult.Run("estimate", "mobilenet-v9").AssertBadInput("unknown zoo model 'mobilenet-v9'");
        CliResult.Run("estimate", "mobilenet-v2", "--hardware", "tpu-v9").AssertBadInput("unknown hardware preset 'tpu-v9'");
        CliResult.Run("estimate", "mobilenet-v2", "--fidelity", "exact").AssertBadInput("--fidelity must be 'analytical' or 'detailed'");
        CliResult.Run("estimate", "vgg-16", "--resolution", "2048").AssertBadInput("cannot be mapped on pixel6@2");
        CliResult.Run("estimate", "/no/such/arch.json").AssertBadInput("file not found");
        using var dir = new TempDir();
        var hw = dir.File("bad-hw.json");
        File.WriteAllText(hw, """{"format": "nascluster-hardware", "version": 1, "name": "x", "base": "pixel6", "lanes_per_core": -4}""");
        CliResult.Run("estimate", "mobilenet-v2", "--hardware", hw).AssertBadInput(hw, "$.lanes_per_core", "between 1 and");
        var arch = dir.File("a.arch.json");
        ArchJson.WriteFile(ModelZoo.Build("mobilenet-v2"), arch);
        CliResult.Run("estimate", arch, "--resolution", "160").AssertBadInput("--resolution applies to zoo models");
    }
}

public class BlocksAndHardwareCliTests
{
    [Fact]
    public void Blocks_tabulates_every_variant_over_the_grid()
    {
        var r = CliResult.Run("blocks", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var rows = doc.RootElement.EnumerateArray().ToList();
        var variants = rows.Select(x => x.GetProperty("variant").GetString()).Distinct().ToList();
        Assert.Contains("dw-ibn", variants);
        Assert.Contains("fused-ibn", variants);
        Assert.Contains("ggc-ibn-e1x2-g32", variants);
        Assert.Equal([8, 16, 32, 64, 128], rows.Where(x => x.GetProperty("type").GetString() == "gc").Select(x => x.GetProperty("group_size").GetInt32()).Distinct().Order());
        Assert.Equal([7, 14, 28, 56, 112], rows.Select(x => x.GetProperty("spatial").GetInt32()).Distinct().Order());
        Assert.All(rows, x =>
        {
            Assert.True(x.GetProperty("latency_us").GetDouble() > 0);
            Assert.InRange(x.GetProperty("utilization").GetDouble(), 0.0, 1.0);
            Assert.True(x.GetProperty("energy_uj").GetDouble() > 0);
        });

        var csv = CliResult.Run("blocks", "--csv").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("variant,type,group_size,spatial,channels,params,macs,latency_us,energy_uj,utilization", csv[0]);
        Assert.Equal(rows.Count, csv.Length - 1);
    }

    [Fact]
    public void Blocks_plots_svg_and_suggests_loadable_rules()
    {
        using var dir = new TempDir();
        var plot = dir.File("fig10.svg");
        var r = CliResult.Run("blocks", "--suggest-rules", "--plot", plot);
        Assert.Equal(0, r.ExitCode);
        var svg = File.ReadAllText(plot);
        Assert.StartsWith("<svg", svg);
        Assert.Contains("dw-ibn", svg);
        Assert.Equal(5, svg.Split("text-anchor=\"middle\" font-size=\"12\"").Length - 1); // one panel per spatial size

        // The suggested rules paste into the built-in classification space and it still loads.
        var rules = string.Join("\n", r.Out.Split('\n').Where(l => !l.StartsWith("//")));
        Assert.StartsWith("[", rules.Trim());
        var text = BuiltInSpaces.Text("mnv2-edgetpu-classification");
        var spliced = text[..text.LastIndexOf("\"rules\"", StringComparison.Ordinal)] + "\"rules\": " + rules + "\n}\n";
        var space = SearchSpaceLoader.Parse(spliced, "with-suggested-rules.json");
        var suggested = BlocksSuggestions(r.Out);
        Assert.NotEmpty(suggested);
        foreach (var (stages, forbidden) in suggested)
            Assert.All(space.Decisions.Where(d => d.Field == "type" && d.Stage is { } st && stages.Contains(st)),
                d => Assert.DoesNotContain(d.Choices, c => c.ToString() == forbidden));

        CliResult.Run("blocks", "--plot", dir.File("fig.png")).AssertBadInput("SVG");
        CliResult.Run("blocks", "--json", "--csv").AssertBadInput("one of --json and --csv");
    }

    private static List<(int[] Stages, string Forbidden)> BlocksSuggestions(string output) =>
        output.Split('\n').Where(l => l.TrimStart().StartsWith("{\"field\": \"type\""))
            .Select(l => JsonDocument.Parse(l.Trim().TrimEnd(',')).RootElement)
            .SelectMany(e => e.GetProperty("forbid").EnumerateArray().Select(f =>
                (e.GetProperty("stages").EnumerateArray().Select(x => x.GetInt32()).ToArray(), f.GetString()!)))
            .ToList();

    [Fact]
    public void Hardware_commands_list_show_and_calibrate()
    {
        var list = CliResult.Run("hardware", "list");
        Assert.Equal(0, list.ExitCode);
        foreach (var name in HardwarePresets.Names) Assert.Contains(name, list.Out);
        var show = CliResult.Run("hardware", "show", "coral-usb3");
        Assert.Contains("USB 3.0", show.Out);
        Assert.Contains("[V]", show.Out);
        var calibrate = CliResult.Run("hardware", "calibrate");
        Assert.Equal(0, calibrate.ExitCode);
        Assert.Contains("Spearman 1.000", calibrate.Out);
        CliResult.Run("hardware", "show", "nope").AssertBadInput("unknown hardware preset 'nope'");
    }

    [Fact]
    public void Hardware_show_gives_a_preset_as_an_editable_file_that_prices_as_the_preset()
    {
        using var dir = new TempDir();
        var json = CliResult.Run("hardware", "show", "coral-pcie", "--json");
        Assert.Equal(0, json.ExitCode);
        var root = JsonDocument.Parse(json.Out).RootElement;
        Assert.Equal("coral-pcie-custom", root.GetProperty("name").GetString());
        Assert.False(root.TryGetProperty("base", out _));
        Assert.Equal("first-unsupported", root.GetProperty("partitioning").GetString());
        var file = dir.File("my.json");
        var save = CliResult.Run("hardware", "show", "coral-pcie", "--save", file);
        Assert.Equal(0, save.ExitCode);
        Assert.Equal(json.Out, File.ReadAllText(file));
        double Latency(string hardware) => JsonDocument.Parse(CliResult.Run("estimate", "mobilenet-v2", "--hardware", hardware, "--json").Out)
            .RootElement.GetProperty("latency_ms").GetDouble();
        Assert.Equal(Latency("coral-pcie"), Latency(file));
        // An edited copy: twice the link bandwidth, a faster part.
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"link_gb_per_s\": 0.45", "\"link_gb_per_s\": 0.9", StringComparison.Ordinal)
            .Replace("\"off_chip_gb_per_s\": 0.45", "\"off_chip_gb_per_s\": 0.9", StringComparison.Ordinal));
        Assert.True(Latency(file) < Latency("coral-pcie"));
        CliResult.Run("hardware", "show", "coral-pcie", "--save", file).AssertBadInput("exists; not overwritten");
    }
}
