using System.Text.Json;
using NasCluster.Shared.SearchSpace;

namespace NasCluster.Coordinator.Tests.Cli;

public class SpacesCliTests
{
    [Fact]
    public void Spaces_list_shows_the_built_in_spaces()
    {
        var r = CliResult.Run("spaces", "list");
        Assert.Equal(0, r.ExitCode);
        foreach (var name in BuiltInSpaces.Names) Assert.Contains(name, r.Out);
    }

    [Fact]
    public void Spaces_info_shows_decisions_choices_and_size()
    {
        var r = CliResult.Run("spaces", "info", "mnv2-edgetpu-classification");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("s3.b2.type", r.Out);
        Assert.Contains("dw, fused, gc", r.Out);
        Assert.Contains("10^28", r.Out);
        Assert.Contains("group_size min 32", r.Out);

        var json = CliResult.Run("spaces", "info", "spaghetti-detection", "--json");
        using var doc = JsonDocument.Parse(json.Out);
        var space = BuiltInSpaces.Load("spaghetti-detection");
        Assert.Equal(space.Decisions.Length, doc.RootElement.GetProperty("decisions").GetArrayLength());
        Assert.Equal(space.Size.ToString(), doc.RootElement.GetProperty("size").GetString());
        Assert.Equal(space.Fingerprint, doc.RootElement.GetProperty("fingerprint").GetString());
    }

    [Fact]
    public void Spaces_sample_is_seeded_and_prints_hash_params_macs()
    {
        var a = CliResult.Run("spaces", "sample", "mnv2-edgetpu-classification", "--seed", "5", "--count", "3", "--json");
        var b = CliResult.Run("spaces", "sample", "mnv2-edgetpu-classification", "--seed", "5", "--count", "3", "--json");
        var c = CliResult.Run("spaces", "sample", "mnv2-edgetpu-classification", "--seed", "6", "--count", "3", "--json");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Out, b.Out);
        Assert.NotEqual(a.Out, c.Out);
        var lines = a.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var space = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var candidate = space.ParseCandidate(NasCluster.Shared.Util.JsonNode.Parse(line, null));
            var network = space.Build(candidate);
            Assert.Equal(network.Hash, doc.RootElement.GetProperty("hash").GetString());
            Assert.Equal(network.Params, doc.RootElement.GetProperty("params").GetInt64());
            Assert.Equal(network.Macs, doc.RootElement.GetProperty("macs").GetInt64());
            Assert.Equal(candidate.Vector, doc.RootElement.GetProperty("vector").EnumerateArray().Select(x => x.GetInt32()));
        }

        var human = CliResult.Run("spaces", "sample", "mnv2-edgetpu-classification", "--seed", "5", "--count", "3");
        Assert.Equal(0, human.ExitCode);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Contains(first.RootElement.GetProperty("hash").GetString()![..16], human.Out);
    }

    [Fact]
    public void Spaces_validate_accepts_good_files_and_rejects_bad_ones_with_path()
    {
        using var dir = new TempDir();
        var good = dir.File("good.json");
        File.WriteAllText(good, BuiltInSpaces.Text("autoseg-edgetpu"));
        var ok = CliResult.Run("spaces", "validate", good, "--samples", "20");
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("valid segmentation space", ok.Out);
        Assert.Contains("built 22 candidates", ok.Out);

        var bad = dir.File("bad.json");
        File.WriteAllText(bad, BuiltInSpaces.Text("autoseg-edgetpu").Replace("[3, 5, 7]", "[3, 6]"));
        CliResult.Run("spaces", "validate", bad).AssertBadInput(bad, "$.backbone.stages[0].blocks[0].kernel.choices[1]", "kernel must be odd");

        var malformed = dir.File("malformed.json");
        File.WriteAllText(malformed, "{ \"format\": ");
        CliResult.Run("spaces", "validate", malformed).AssertBadInput(malformed, "malformed JSON");

        CliResult.Run("spaces", "validate", dir.File("missing.json")).AssertBadInput("no built-in space named");
        CliResult.Run("spaces", "sample", "mnv2-edgetpu-classification").AssertBadInput("--seed");
        CliResult.Run("spaces", "sample", "mnv2-edgetpu-classification", "--seed", "1", "--count", "0").AssertBadInput("--count must be at least 1");
    }

    [Fact]
    public void Validate_builds_sampled_candidates_and_reports_an_impossible_one()
    {
        using var dir = new TempDir();
        var path = dir.File("ggc.json");
        File.WriteAllText(path, """
            {
              "format": "nascluster-space", "version": 1, "name": "ggc", "task": "classification",
              "input": {"resolution": 32},
              "backbone": {
                "stem": {"filters": 16, "kernel": 3},
                "stages": [{"filters": 16, "repeats": 2, "per_block": true,
                  "block": {"type": "ggc", "kernel": 3, "expansion": {"choices": [4, 6]}, "pointwise_expansion": 4}}]
              },
              "head": {"type": "classification", "classes": 10}
            }
            """);
        CliResult.Run("spaces", "validate", path).AssertBadInput("builds an impossible network", "pointwise expansion e1=4 must divide");
    }
}
