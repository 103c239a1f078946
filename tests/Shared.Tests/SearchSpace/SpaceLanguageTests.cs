using System.Numerics;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Shared.Tests.SearchSpace;

public class SpaceLanguageTests
{
    /// <summary>A small classification space; <paramref name="extra"/> is spliced into the top-level object.</summary>
    private static string Doc(string stages = DefaultStages, string extra = "", string head = """{"type": "classification", "classes": 10}""") => $$"""
        {
          "format": "nascluster-space", "version": 1, "name": "toy", "task": "classification",
          "input": {"resolution": 32},
          "backbone": {
            "stem": {"filters": 16, "kernel": {"choices": [3, 5]}, "stride": 2},
            "stages": {{stages}}
          },
          "head": {{head}}{{extra}}
        }
        """;

    private const string DefaultStages = """
        [
          {"name": "a", "filters": {"choices": [16, 24]}, "stride": 1, "blocks": [{"type": "fused", "kernel": 3, "expansion": 1}]},
          {"name": "b", "filters": 32, "stride": 2, "repeats": 2, "per_block": true,
           "block": {"type": {"choices": ["dw", "fused", "gc"]}, "kernel": {"choices": [3, 5]}, "expansion": {"choices": [4, 8]}}},
          {"name": "c", "filters": {"base": 64, "multiplier": {"choices": [0.5, 1]}}, "stride": 2, "repeats": {"choices": [1, 2]},
           "block": {"type": "dw", "kernel": 3, "expansion": {"choices": [3, 6]}}}
        ]
        """;

    [Fact]
    public void Decisions_are_named_by_position_and_sized_exactly()
    {
        var s = SearchSpaceLoader.Parse(Doc());
        Assert.Equal(
            ["stem.kernel", "a.filters", "b.b0.type", "b.b0.kernel", "b.b0.expansion", "b.b1.type", "b.b1.kernel", "b.b1.expansion",
             "c.multiplier", "c.repeats", "c.expansion"],
            s.Decisions.Select(d => d.Name));
        Assert.Equal(new BigInteger(2 * 2 * (3 * 2 * 2) * (3 * 2 * 2) * 2 * 2 * 2), s.Size);
        Assert.Equal(Math.Log10((double)s.Size), s.Log10Size, 9);
        var d = s.Decisions[s.IndexOf("b.b1.kernel")];
        Assert.Equal((1, 1, "kernel"), (d.Stage!.Value, d.Block!.Value, d.Field));
    }

    [Fact]
    public void Build_follows_the_candidate()
    {
        var s = SearchSpaceLoader.Parse(Doc());
        var values = s.Decisions.ToDictionary(d => d.Name, d => d.Choices[^1]);
        values["b.b0.type"] = ChoiceValue.Of("gc");
        values["c.multiplier"] = ChoiceValue.Of(0.5);
        values["c.repeats"] = ChoiceValue.Of(1);
        var n = s.Build(s.FromValues(values));
        var stem = n.Infos.First(i => i.Layer.Name == "stem");
        Assert.Equal(5, ((Conv2DOp)stem.Layer.Op).KernelH);
        var gc = (Conv2DOp)n.Layers.First(l => l.Name == "b/b0/group").Op;
        Assert.Equal(5, gc.KernelH);
        Assert.Equal(24 * 8, gc.Filters);                       // expansion 8 on the 24 channels of stage a
        Assert.Equal(32, n.ShapeOf("c/b0/project").Channels);   // 64 x 0.5
        Assert.DoesNotContain(n.Layers, l => l.Name.StartsWith("c/b1/")); // one repeat only
    }

    [Fact]
    public void Candidates_convert_between_vectors_values_and_json()
    {
        var s = SearchSpaceLoader.Parse(Doc());
        var c = s.Sample(new DeterministicRng(11));
        Assert.Equal(c, s.FromVector(c.Vector));
        Assert.Equal(c, s.FromValues(s.Decisions.Select((d, i) => (d.Name, c.Values[i])).ToDictionary(x => x.Name, x => x.Item2)));
        Assert.Equal(c, s.ParseCandidate(JsonNode.Parse(c.ToJson(), null)));
        Assert.Equal(c, s.ParseCandidate(JsonNode.Parse($$"""{"candidate": {{c.ToJson()}}, "hash": "x"}""", null)));
        Assert.Equal(s.Build(c).Hash, s.Build(s.FromVector(c.Vector)).Hash);
    }

    [Fact]
    public void Bad_candidates_name_the_decision()
    {
        var s = SearchSpaceLoader.Parse(Doc());
        Assert.Contains("no decision named 'zz'", Assert.Throws<NasInputException>(() => s.ParseCandidate(JsonNode.Parse("""{"zz": 1}""", null))).Message);
        var full = s.Decisions.ToDictionary(d => d.Name, d => d.Choices[0]);
        full["stem.kernel"] = ChoiceValue.Of(7);
        Assert.Contains("7 is not a choice of 'stem.kernel'", Assert.Throws<NasInputException>(() => s.FromValues(full)).Message);
        Assert.Contains("missing decision", Assert.Throws<NasInputException>(() => s.FromValues(new Dictionary<string, ChoiceValue>())).Message);
        Assert.Throws<NasInputException>(() => s.FromVector([0, 0]));
        Assert.Throws<NasInputException>(() => s.FromVector(Enumerable.Repeat(9, s.Decisions.Length).ToArray()));
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_uniform()
    {
        var s = SearchSpaceLoader.Parse(Doc());
        var a = Enumerable.Range(0, 50).Select(_ => 0).Select((_, i) => i).ToList();
        var r1 = new DeterministicRng(42);
        var r2 = new DeterministicRng(42);
        for (var i = 0; i < 50; i++) Assert.Equal(s.Sample(r1), s.Sample(r2));
        Assert.NotEqual(s.Sample(new DeterministicRng(1)).Key, s.Sample(new DeterministicRng(2)).Key + "x");

        // Chi-square on the 3-way type decision over 30,000 draws (critical value 13.8 at p = 0.001, 2 dof).
        var rng = new DeterministicRng(9);
        var index = s.IndexOf("b.b0.type");
        var counts = new int[3];
        for (var i = 0; i < 30000; i++) counts[s.Sample(rng).Vector[index]]++;
        var chi2 = counts.Sum(o => Math.Pow(o - 10000, 2) / 10000);
        Assert.True(chi2 < 13.8, $"chi² = {chi2} for counts {string.Join(",", counts)}");
    }

    [Fact]
    public void Rules_filter_choices_by_position()
    {
        var rules = """
            , "rules": [
              {"field": "type", "stages": [1], "blocks": {"from": 1}, "forbid": ["fused"], "why": "late fused is slow"},
              {"decisions": ["c.*"], "field": "expansion", "max": 4},
              {"field": "kernel", "stages": {"from": 0, "to": 1}, "allow": [3]}
            ]
            """;
        var s = SearchSpaceLoader.Parse(Doc(extra: rules));
        string Choices(string n) => string.Join(",", s.Decisions[s.IndexOf(n)].Choices);
        Assert.Equal("dw,fused,gc", Choices("b.b0.type"));    // block 0 is not selected
        Assert.Equal("dw,gc", Choices("b.b1.type"));
        Assert.Equal("3", Choices("c.expansion"));
        Assert.Equal("3", Choices("b.b0.kernel"));
        Assert.Equal("3,5", Choices("stem.kernel"));           // the stem has no stage index
        Assert.Equal("dw,fused,gc", string.Join(",", s.Decisions[s.IndexOf("b.b1.type")].DeclaredChoices));
        Assert.Equal([1, 1, 2], s.Rules.Select(r => r.ChoicesRemoved));
        Assert.Equal("late fused is slow", s.Rules[0].Why);
    }

    [Fact]
    public void Shared_decisions_are_declared_once_and_referenced()
    {
        var stages = """
            [
              {"name": "a", "filters": 16, "stride": 1, "repeats": 2, "block": {"type": "dw", "kernel": {"decision": "k"}, "expansion": 4}},
              {"name": "b", "filters": 32, "stride": 2, "repeats": 2, "block": {"type": "dw", "kernel": {"decision": "k"}, "expansion": 4}}
            ]
            """;
        var s = SearchSpaceLoader.Parse(Doc(stages, """, "decisions": {"k": {"choices": [3, 5, 7]}}"""));
        Assert.Equal(["stem.kernel", "k"], s.Decisions.Select(d => d.Name));
        var values = new Dictionary<string, ChoiceValue> { ["stem.kernel"] = ChoiceValue.Of(3), ["k"] = ChoiceValue.Of(7) };
        var n = s.Build(s.FromValues(values));
        Assert.All(n.Layers.Where(l => l.Name.EndsWith("depthwise")), l => Assert.Equal(7, ((Conv2DOp)l.Op).KernelH));
    }

    [Fact]
    public void Fingerprint_follows_meaning_not_formatting()
    {
        var a = SearchSpaceLoader.Parse(Doc());
        var b = SearchSpaceLoader.Parse(Doc().Replace("\n", "\n\n  ").Replace("\"stride\": 2,", "\"stride\":2,"));
        var c = SearchSpaceLoader.Parse(Doc().Replace("[3, 5]", "[3, 7]"));
        Assert.Equal(a.Fingerprint, b.Fingerprint);
        Assert.NotEqual(a.Fingerprint, c.Fingerprint);
    }

    public static TheoryData<string, string, string> BadDocuments => new()
    {
        { Doc().Replace("\"version\": 1", "\"version\": 3"), "$.version", "unsupported version 3" },
        { Doc().Replace("\"task\": \"classification\"", "\"task\": \"painting\""), "$.task", "unknown task \"painting\"" },
        { Doc().Replace("\"kernel\": {\"choices\": [3, 5]}, \"stride\": 2", "\"kernel\": {\"choices\": [3, 4]}, \"stride\": 2"), "$.backbone.stem.kernel.choices[1]", "kernel must be odd" },
        { Doc().Replace("[\"dw\", \"fused\", \"gc\"]", "[\"dw\", \"mbconv\"]"), "$.backbone.stages[1].block.type.choices[1]", "unknown block type \"mbconv\"" },
        { Doc().Replace("\"stride\": 2,", "\"stride\": 3,"), "$.backbone.stages[1].stride", "stride must be between 1 and 2" },
        { Doc().Replace("[16, 24]", "[16, 16]"), "$.backbone.stages[0].filters.choices[1]", "duplicate choice 16" },
        { Doc().Replace("[16, 24]", "[]"), "$.backbone.stages[0].filters.choices", "at least one choice" },
        { Doc().Replace("\"per_block\": true,", "\"per_blocks\": true,"), "$.backbone.stages[1].per_blocks", "unknown key \"per_blocks\"" },
        { Doc().Replace("{\"choices\": [0.5, 1]}", "{\"decision\": \"width\"}"), "$.backbone.stages[2].filters.multiplier.decision", "no decision named \"width\"" },
        { Doc(extra: """, "decisions": {"unused": {"choices": [1, 2]}}"""), "$.decisions.unused", "declared but never used" },
        { Doc(extra: """, "rules": [{"field": "type", "forbid": ["dw", "fused", "gc"]}]"""), "$.rules[0]", "removes every choice of decision 'b.b0.type'" },
        { Doc(extra: """, "rules": [{"field": "colour", "forbid": ["red"]}]"""), "$.rules[0]", "selects no decision" },
        { Doc(extra: """, "rules": [{"field": "type", "stages": [0], "forbid": ["fused"]}]"""), "$.rules[0]", "fixed value \"fused\"" },
        { Doc(extra: """, "rules": [{"forbid": ["fused"]}]"""), "$.rules[0]", "must select decisions" },
        { Doc().Replace("\"blocks\": [{\"type\": \"fused\", \"kernel\": 3, \"expansion\": 1}]", "\"blocks\": [{\"type\": {\"choices\": [\"dw\", \"skip\"]}, \"kernel\": 3, \"expansion\": 1}]"), "$.backbone.stages[0].blocks[0].type", "cannot be \"skip\"" },
        { Doc().Replace("\"name\": \"b\"", "\"name\": \"a\""), "$.backbone.stages[1]", "stage name 'a' is already used" },
        { Doc().Replace("\"kernel\": {\"choices\": [3, 5]}, \"expansion\": {\"choices\": [4, 8]}", "\"kernel\": {\"choices\": [3, 5], \"name\": \"stem.kernel\"}, \"expansion\": {\"choices\": [4, 8]}"), "$.backbone.stages[1].block.kernel.choices", "already used" },
        { Doc().Replace("\"stride\": 1, \"blocks\"", "\"stride\": {\"pick\": [1]}, \"blocks\""), "$.backbone.stages[0].stride", "expected a fixed value" },
        { "{\"format\": \"nascluster-space\" \"version\": 1}", "line 1, column 31", "malformed JSON" },
        { """{"format": "nascluster-arch", "version": 1}""", "$.format", "is this a search-space file?" },
    };

    [Theory]
    [MemberData(nameof(BadDocuments))]
    public void Bad_documents_are_reported_with_file_path_and_reason(string text, string path, string reason)
    {
        var e = Assert.ThrowsAny<NasInputException>(() => SearchSpaceLoader.Parse(text, "my-space.json"));
        Assert.Equal("my-space.json", e.File);
        Assert.Equal(path, e.JsonPath);
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void An_impossible_candidate_network_names_the_candidate_and_layer()
    {
        // A generalized GC block whose pointwise expansion does not divide the total expansion.
        var stages = """
            [{"name": "a", "filters": 16, "stride": 1, "repeats": 1,
              "block": {"type": "ggc", "kernel": 3, "expansion": {"choices": [4, 6]}, "pointwise_expansion": 4}}]
            """;
        var s = SearchSpaceLoader.Parse(Doc(stages));
        Assert.NotNull(s.Build(s.FromVector([0, 0])));
        var e = Assert.Throws<NasInputException>(() => s.Build(s.FromVector([0, 1])));
        Assert.Contains("\"a.expansion\": 6", e.Message);
        Assert.Contains("layer 'a/b0'", e.Message);
    }

    [Fact]
    public void Resolve_prefers_files_and_knows_built_in_names()
    {
        var dir = Directory.CreateTempSubdirectory("nascluster-space-");
        try
        {
            var path = Path.Combine(dir.FullName, "toy.json");
            File.WriteAllText(path, Doc());
            Assert.Equal("toy", BuiltInSpaces.Resolve(path).Name);
            Assert.Equal(path, BuiltInSpaces.Resolve(path).Source);
            Assert.Equal("built-in:spaghetti-detection", BuiltInSpaces.Resolve("spaghetti-detection").Source);
            Assert.Equal("built-in:spaghetti-detection", BuiltInSpaces.Resolve("spaghetti-detection.json").Source);
            Assert.Contains("no built-in space named 'nope'", Assert.Throws<NasInputException>(() => BuiltInSpaces.Resolve("nope")).Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
