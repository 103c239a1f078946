using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.Tests.SearchSpace;

public class BuiltInSpaceTests
{
    public static TheoryData<string> Spaces => new(BuiltInSpaces.Names);

    [Fact]
    public void The_four_built_in_spaces_exist()
    {
        Assert.Equal(["autoseg-edgetpu", "mnv2-edgetpu-classification", "mobilebert-edgetpu", "spaghetti-detection"], BuiltInSpaces.Names);
        var dir = Path.Combine(RepoRoot(), "spaces");
        foreach (var name in BuiltInSpaces.Names)
            Assert.Equal(File.ReadAllText(Path.Combine(dir, name + ".json")), BuiltInSpaces.Text(name)); // the embedded copy is the file
    }

    /// <summary>The property test: 1,000 seeded samples of every built-in space all build valid networks.</summary>
    [Theory]
    [MemberData(nameof(Spaces))]
    public void A_thousand_sampled_candidates_all_build_valid_networks(string name)
    {
        var space = BuiltInSpaces.Load(name);
        var rng = new DeterministicRng(2024);
        var hashes = new HashSet<string>();
        for (var i = 0; i < 1000; i++)
        {
            var c = space.Sample(rng);
            var n = space.Build(c); // throws (failing the test) on an impossible network
            Assert.True(n.Params > 0 && n.Macs > 0);
            Assert.Equal(space.Task == "detection" ? 2 : 1, n.Outputs.Length);
            hashes.Add(n.Hash);
            Assert.Equal(c, space.FromVector(c.Vector));
        }
        Assert.True(hashes.Count > 990, $"{name}: only {hashes.Count} distinct networks in 1,000 samples");
    }

    [Fact]
    public void Classification_space_has_the_papers_knobs_and_rules()
    {
        var s = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var types = s.Decisions.Where(d => d.Field == "type").ToList();
        Assert.All(types.Where(d => d.Stage < 5), d => Assert.Equal(["dw", "fused", "gc"], d.Choices.Select(c => c.ToString())));
        Assert.All(types.Where(d => d.Stage >= 5), d => Assert.Equal(["dw", "gc"], d.Choices.Select(c => c.ToString())));
        Assert.All(s.Decisions.Where(d => d.Field == "kernel" && d.Stage is not null), d => Assert.Equal(["3", "5"], d.Choices.Select(c => c.ToString())));
        Assert.All(s.Decisions.Where(d => d.Field == "expansion"), d => Assert.Equal(["4", "8"], d.Choices.Select(c => c.ToString())));
        Assert.All(s.Decisions.Where(d => d.Field == "group_size"), d => Assert.True(d.Choices.All(c => c.AsDouble >= 32)));
        Assert.Contains(s.Decisions, d => d.Field == "filters" && d.Stage == 3);
        Assert.InRange(s.Log10Size, 20, 40);
    }

    [Fact]
    public void Gc_blocks_in_the_classification_space_keep_at_least_32_input_channels_per_group()
    {
        var s = BuiltInSpaces.Load("mnv2-edgetpu-classification");
        var rng = new DeterministicRng(7);
        for (var i = 0; i < 200; i++)
            foreach (var info in s.Build(s.Sample(rng)).Infos)
                if (info.Layer.Op is Conv2DOp { Groups: > 1 } conv && conv.Groups != info.InputShapes[0].Channels)
                    Assert.True(info.InputShapes[0].Channels / conv.Groups >= 32, info.Layer.Name);
    }

    [Fact]
    public void Segmentation_space_has_its_knobs()
    {
        var s = BuiltInSpaces.Load("autoseg-edgetpu");
        Assert.All(s.Decisions.Where(d => d.Field == "kernel"), d => Assert.Equal(["3", "5", "7"], d.Choices.Select(c => c.ToString())));
        Assert.All(s.Decisions.Where(d => d.Field == "expansion"), d => Assert.Equal(["3", "6"], d.Choices.Select(c => c.ToString())));
        Assert.DoesNotContain(s.Decisions, d => d.Field == "expansion" && d.Stage == 0); // the first block has none
        Assert.All(s.Decisions.Where(d => d.Field == "multiplier"), d => Assert.Equal(["0.25", "0.5", "0.75", "1", "2"], d.Choices.Select(c => c.ToString())));
        Assert.Contains(s.Decisions, d => d.Name == "head.repeats");
        Assert.Contains(s.Decisions, d => d.Name == "head.min_level");
    }

    [Fact]
    public void Detection_space_has_12_blocks_of_2_to_4_layers_with_cross_level_inputs()
    {
        var s = BuiltInSpaces.Load("spaghetti-detection");
        var repeats = s.Decisions.Where(d => d.Field == "repeats").ToList();
        Assert.Equal(12, repeats.Count);
        Assert.All(repeats, d => Assert.Equal(["2", "3", "4"], d.Choices.Select(c => c.ToString())));
        Assert.All(s.Decisions.Where(d => d.Field == "type"), d => Assert.Equal(["sep", "dw", "gc"], d.Choices.Select(c => c.ToString())));
        Assert.Equal(12, s.Decisions.Count(d => d.Field.StartsWith("input")));
        var c = s.Sample(new DeterministicRng(3));
        var n = s.Build(c);
        Assert.Equal(4, n.ShapeOf(n.Outputs[0]).Channels);
        Assert.Equal(91, n.ShapeOf(n.Outputs[1]).Channels);
    }

    [Fact]
    public void Nlp_space_builds_transformers()
    {
        var s = BuiltInSpaces.Load("mobilebert-edgetpu");
        var n = s.Build(s.Sample(new DeterministicRng(5)));
        Assert.Contains(n.Layers, l => l.Op is MatMulOp);
        Assert.Contains(n.Layers, l => l.Op is EmbeddingOp);
    }

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "NasCluster.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("repository root not found");
    }
}
