using System.Text.Json;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Zoo;

namespace NasCluster.Coordinator.Tests.Cli;

public class ZooCliTests
{
    [Fact]
    public void Zoo_list_names_every_model_with_its_counts()
    {
        var r = CliResult.Run("zoo", "list");
        Assert.Equal(0, r.ExitCode);
        foreach (var name in ModelZoo.Names) Assert.Contains(name, r.Out);
        Assert.Contains("3.47M", r.Out); // mobilenet-v2

        var json = CliResult.Run("zoo", "list", "--json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(ModelZoo.Names.Count(), doc.RootElement.GetArrayLength());
    }

    [Fact]
    public void Zoo_show_json_has_the_counts_and_every_layer()
    {
        var r = CliResult.Run("zoo", "show", "mobilenet-edgetpu-v2-s", "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        var expected = ModelZoo.Build("mobilenet-edgetpu-v2-s");
        Assert.Equal("mobilenet-edgetpu-v2-s", root.GetProperty("name").GetString());
        Assert.Equal(expected.Params, root.GetProperty("params").GetInt64());
        Assert.Equal(expected.Macs, root.GetProperty("macs").GetInt64());
        Assert.Equal(expected.WeightBytesInt8, root.GetProperty("weight_bytes").GetInt64());
        Assert.Equal(expected.Hash, root.GetProperty("hash").GetString());
        var layers = root.GetProperty("layers");
        Assert.Equal(expected.Layers.Length, layers.GetArrayLength());
        Assert.Equal(expected.Infos.Sum(i => i.Macs), layers.EnumerateArray().Sum(l => l.GetProperty("macs").GetInt64()));
        Assert.Contains(layers.EnumerateArray(), l => l.GetProperty("kind").GetString() == "group_conv");
    }

    [Fact]
    public void Zoo_show_takes_a_resolution_and_saves_arch_json()
    {
        using var dir = new TempDir();
        var path = dir.File("m.arch.json");
        var r = CliResult.Run("zoo", "show", "mobilenet-v2", "--resolution", "160", "--save", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("resolution               160", r.Out);
        var saved = ArchJson.ReadFile(path);
        Assert.Equal(ModelZoo.Build("mobilenet-v2", 160).Hash, saved.Hash);
        Assert.Contains(saved.Hash, r.Out);
    }

    [Fact]
    public void Unknown_zoo_names_and_impossible_resolutions_exit_2_with_one_line()
    {
        CliResult.Run("zoo", "show", "mobilenet-v9").AssertBadInput("unknown zoo model 'mobilenet-v9'");
        CliResult.Run("zoo", "show", "vgg-16", "--resolution", "16").AssertBadInput("layer 'stage5/pool'", "does not fit");
        CliResult.Run("zoo", "show", "vgg-16", "--resolution", "many").AssertBadInput("--resolution expects an integer, got 'many'");
        CliResult.Run("zoo", "show", "resnet-50", "--resolution", "-3").AssertBadInput("between 1 and");
        CliResult.Run("zoo", "frobnicate").AssertBadInput();
    }
}
