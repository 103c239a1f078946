using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using NasCluster.Shared.Zoo;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Proxy;
using NasCluster.TrainerNode.Torch;
using NasCluster.TrainerNode.Training;
using TorchSharp;

namespace NasCluster.TrainerNode.Tests;

/// <summary>The NLP proxy's corpus: WordNet glosses into supersenses, read, split and encoded deterministically.</summary>
public sealed class GlossesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("nascluster-wordnet-").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    /// <summary>A data.noun in WordNet's layout: a licence header, then per kept supersense <paramref name="perClass"/> synsets (and some of a file not kept).</summary>
    private string WriteWordNet(int perClass, string? extraLine = null, string copy = "")
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, $"wn{perClass}{extraLine?.Length}{copy}")).FullName;
        var lines = new List<string> { "  1 This software and database is being provided to you, the LICENSEE, by", "  2 Princeton University under the following license." };
        var offset = 1000;
        foreach (var (file, name) in Glosses.Supersenses)
            for (var i = 0; i < perClass; i++)
                lines.Add($"{offset++:D8} {file:D2} n 01 word{i} 0 000 | a {name.Split('.')[1]} thing number {i}; \"an example that must not be read\"");
        lines.Add($"{offset:D8} 03 n 01 top 0 000 | the top of everything (not a kept supersense)");
        if (extraLine is not null) lines.Add(extraLine);
        File.WriteAllLines(Path.Combine(dir, "data.noun"), lines);
        return dir;
    }

    [Fact]
    public void Glosses_are_split_per_class_encoded_without_their_examples_and_hashed_deterministically()
    {
        var recipe = new TextRecipe(SequenceLength: 6, Vocabulary: 64, PerClass: 20, Seed: 5);
        var corpus = Glosses.Load(WriteWordNet(25), recipe);
        Assert.Equal(10, corpus.Classes);
        Assert.Equal("noun.animal", corpus.ClassNames[1]);
        Assert.Equal((160, 20, 20), (corpus.Train.Count, corpus.Validation.Count, corpus.Test.Count)); // 16/2/2 of each class's 20
        for (byte c = 0; c < 10; c++)
        {
            Assert.Equal(16, corpus.Train.Labels.Count(l => l == c));
            Assert.Equal(2, corpus.Validation.Labels.Count(l => l == c));
        }
        Assert.Equal(160 * 6, corpus.Train.Tokens.Length);
        // "a <supersense> thing number <i>": 4 words, then padding; the examples' words never reach the vocabulary.
        var vocabulary = Glosses.Vocabulary(["a animal thing number"], 64);
        Assert.All(Enumerable.Range(0, corpus.Train.Count), i => Assert.Equal([0L, 0L], corpus.Train.Tokens[(i * 6 + 4)..(i * 6 + 6)]));
        Assert.Equal("a bird; a fish", Glosses.Definition(" a bird; a fish; \"the bird flew\"  "));
        Assert.Equal(["a", "b", "c", "s", "d"], Glosses.Words("A-b c's d"));
        Assert.Equal(2L, vocabulary["a"]); // ids 0 and 1 are padding and unknown; then by frequency, ties by word
        // The same data elsewhere (another directory: read again, not the in-process copy) gives the same task.
        var again = Glosses.Load(WriteWordNet(25, copy: "-again"), recipe);
        Assert.NotSame(corpus, again);
        Assert.Equal(corpus.Fingerprint, again.Fingerprint);
        Assert.Equal(corpus.Train.Tokens, again.Train.Tokens);
        Assert.NotEqual(corpus.Fingerprint, Glosses.Load(WriteWordNet(25), recipe with { Seed = 6 }).Fingerprint);
        Assert.NotEqual(corpus.Train.Labels, Glosses.Load(WriteWordNet(25), recipe with { Seed = 6 }).Train.Labels);
    }

    [Fact]
    public void Missing_short_or_malformed_wordnet_is_one_clear_line()
    {
        var missing = Assert.Throws<NasInputException>(() => Glosses.Load(Path.Combine(_root, "nothing")));
        Assert.Contains("apt install wordnet-base", missing.Message);
        Assert.Contains("fewer than 1500 synsets", Assert.Throws<NasInputException>(() => Glosses.Load(WriteWordNet(12))).Message);
        var broken = Assert.Throws<NasInputException>(() => Glosses.Load(WriteWordNet(12, "not a synset"), new TextRecipe(PerClass: 10)));
        Assert.Contains("line 124 is not a WordNet synset", broken.Message);
        Assert.Contains("at least 4", Assert.Throws<NasInputException>(() => Glosses.Load(WriteWordNet(12), new TextRecipe(SequenceLength: 2))).Message);
    }

    [Fact]
    public void Debians_wordnet_gives_the_documented_task()
    {
        // scripts/install-deps.sh installs wordnet-base for the tests.
        var corpus = Glosses.Load();
        Assert.Equal((12000, 1500, 1500), (corpus.Train.Count, corpus.Validation.Count, corpus.Test.Count));
        Assert.Equal(4096, corpus.Vocabulary); // far more distinct words than the table holds
        var tokens = corpus.Train.Tokens;
        var unknown = tokens.Count(t => t == Glosses.Unknown) / (double)tokens.Count(t => t != Glosses.Padding);
        Assert.InRange(unknown, 0.01, 0.15); // the 4,094 most frequent words cover most running text
        Assert.Same(corpus, Glosses.Load()); // read once per process
    }
}

/// <summary>Text encoders scaled to their proxy and run by the IR module: shapes, kept layers, parameter counts, attention semantics.</summary>
public sealed class TextScalingTests
{
    private static readonly ProxySpec Text = ProxySpec.Default with { Task = ProxyTask.Text, Resolution = 32, Vocabulary = 4096, Classes = 10 };

    private static Network AssertTextProxy(Network candidate, int expectedLayers)
    {
        Assert.Equal(ProxyTask.Text, ProxyTasks.Of(candidate));
        var proxy = ProxyScaling.Scale(candidate, Text);
        Assert.Equal(new TensorShape(1, 1, 10), proxy.ShapeOf(proxy.Outputs[0]));
        Assert.All(proxy.Layers.Select(l => l.Op).OfType<InputOp>(), i => Assert.Equal(new TensorShape(1, 32, 1), i.Shape));
        var kept = proxy.Layers.Select(l => l.Name).Where(n => n.StartsWith("layer", StringComparison.Ordinal)).Select(n => n[..n.IndexOf('/')]).Distinct().ToList();
        Assert.Equal(Enumerable.Range(0, expectedLayers).Select(i => $"layer{6 * i}"), kept);
        var word = proxy.Layers.Select(l => l.Op).OfType<EmbeddingOp>().First();
        Assert.Equal(4096, word.Vocabulary);
        using var module = new IrModule(proxy);
        Assert.Equal(proxy.Params, module.IrParameterCount);
        using var tokens = torch.randint(0, 4096, [3, 32], dtype: torch.ScalarType.Int64);
        using var y = module.forward(tokens);
        Assert.Equal([3L, 10, 1, 1], y.shape);
        return proxy;
    }

    [Fact]
    public void Mobilebert_and_sampled_candidates_keep_one_layer_in_six_and_classify_the_pooled_sequence()
    {
        var proxy = AssertTextProxy(ModelZoo.Build("mobilebert"), 4);
        // Widths at a quarter: hidden 512 → 128, bottleneck 128 → 32 (4 heads of 8), feed-forward 512 → 128.
        Assert.Equal(new TensorShape(1, 32, 128), proxy.ShapeOf("layer0/output_norm"));
        Assert.Equal(new TensorShape(1, 32, 32), proxy.ShapeOf("layer0/attention_norm"));
        Assert.Equal(new TensorShape(1, 32, 4 * 32), proxy.ShapeOf("layer0/scores"));
        var space = BuiltInSpaces.Load("mobilebert-edgetpu");
        var rng = new DeterministicRng(3);
        for (var i = 0; i < 6; i++)
        {
            var candidate = space.Build(space.Sample(rng));
            var layers = candidate.Layers.Select(l => l.Name).Where(n => n.StartsWith("layer", StringComparison.Ordinal)).Select(n => n[..n.IndexOf('/')]).Distinct().Count();
            AssertTextProxy(candidate, (layers + 5) / 6);
        }
    }

    [Fact]
    public void Multi_head_matmul_and_grouped_softmax_compute_what_the_ir_says()
    {
        // Two heads of width 2 over sequences of 3 (queries) and 2 (keys): scores[m, h·N + n] = Σ_k A[m, h·2 + k]·B[n, h·2 + k].
        var a = torch.arange(12, dtype: torch.ScalarType.Float32).reshape(1, 3, 4); // [1, M, h·k]
        var b = torch.arange(8, dtype: torch.ScalarType.Float32).reshape(1, 2, 4).mul(0.5);
        static torch.Tensor Ir(torch.Tensor seq) => seq.transpose(1, 2).unsqueeze(2); // [1, L, C] → [1, C, 1, L]
        var scores = IrModule.MatMul(Ir(a), Ir(b), 2, transposeB: true).squeeze(2).transpose(1, 2); // [1, M, h·N]
        var av = a.data<float>().ToArray();
        var bv = b.data<float>().ToArray();
        for (var m = 0; m < 3; m++)
            for (var h = 0; h < 2; h++)
                for (var n = 0; n < 2; n++)
                {
                    var expected = 0f;
                    for (var k = 0; k < 2; k++) expected += av[m * 4 + h * 2 + k] * bv[n * 4 + h * 2 + k];
                    Assert.Equal(expected, scores[0, m, h * 2 + n].item<float>(), 4);
                }
        // Context: probs[M, h·N] · V[N, h·k] → [M, h·k], head h using its own N columns and its own k features.
        var context = IrModule.MatMul(Ir(scores), Ir(b), 2, transposeB: false).squeeze(2).transpose(1, 2);
        var sv = scores.data<float>().ToArray();
        for (var m = 0; m < 3; m++)
            for (var h = 0; h < 2; h++)
                for (var k = 0; k < 2; k++)
                {
                    var expected = 0f;
                    for (var n = 0; n < 2; n++) expected += sv[m * 4 + h * 2 + n] * bv[n * 4 + h * 2 + k];
                    Assert.Equal(expected, context[0, m, h * 2 + k].item<float>(), 3);
                }

        // Softmax in 2 groups: each head's slice of every position sums to 1.
        var net = new NetworkBuilder("softmax");
        var tokens = net.TokenInput(3, "token_ids");
        var x = net.Softmax(net.Embedding(tokens, 10, 4, "table"), 2, "probs");
        using var module = new IrModule(net.Build(x));
        using var y = module.forward(torch.tensor(new long[] { 1, 2, 3 }, [1, 3])); // [1, 4, 1, 3]
        var sums = y.view(1, 2, 2, 3).sum(2);
        Assert.True(torch.allclose(sums, torch.ones(1, 2, 3), 1e-5, 1e-6));
    }

    [Fact]
    public void Image_networks_are_not_trained_as_text_nor_text_as_images()
    {
        Assert.Contains("is a classification network; this proxy trains nlp",
            Assert.Throws<NasInputException>(() => ProxyScaling.ScaleText(ModelZoo.Build("mobilenet-v2"), Text)).Message);
        Assert.Contains("is an nlp network; this proxy trains classification",
            Assert.Throws<NasInputException>(() => ProxyScaling.Scale(ModelZoo.Build("mobilebert"))).Message);
        Assert.Equal((ProxyTask.Text, "nlp", "accuracy"), (ProxyTasks.Parse("nlp"), ProxyTasks.Name(ProxyTask.Text), ProxyTasks.Metric(ProxyTask.Text)));
    }
}

/// <summary>Training the NLP proxy for real (TorchSharp, Debian's WordNet): it learns, reproducibly, and its record retrains it exactly.</summary>
[Collection("torch")]
[Trait("Tier", "slow")]
public sealed class TextTrainingTests(TorchFixture fixture) : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("nascluster-text-teacher-").FullName;

    public void Dispose() => Directory.Delete(_cache, true);

    [Fact]
    public void A_mobilebert_candidate_learns_supersenses_from_a_distilled_teacher_and_its_record_retrains_it_exactly()
    {
        var space = BuiltInSpaces.Load("mobilebert-edgetpu");
        var candidate = space.Build(space.Sample(new DeterministicRng(2)));
        // A small teacher (seconds, not the default's minutes): distillation runs for real, its targets are just weaker.
        var environment = fixture.Environment with { TeacherCacheDirectory = _cache, TextTeacher = new TeacherConfig { Steps = 150, BatchSize = 64, LearningRate = 0.002, Seed = 7, Widths = [64, 32, 1] } };
        var config = TrainingConfig.For(ProxyTask.Text) with { Steps = 150, Seed = 3 };
        var first = ProxyTrainer.Run(candidate, config, environment);
        Assert.True(first.Succeeded, first.FailureReason);
        Assert.Equal("accuracy", first.Metric);
        Assert.True(first.Score > 0.2, $"accuracy {first.Score:P1} over 10 balanced classes (chance 10 %)");
        var teacher = Teacher.GetOrTrain(Glosses.Load(), environment.TextTeacher!, _cache);
        Assert.True(File.Exists(Path.Combine(teacher.Directory, "teacher.json")));
        Assert.True(teacher.ValidationAccuracy > 0.2, $"teacher {teacher.ValidationAccuracy:P1}");

        // Reproducible, and what an experiment records retrains it exactly on a node with other defaults (one run shows both).
        var record = ProxyRecipes.Describe(Glosses.Load(), config, environment);
        Assert.Equal(("nlp", 32, 4096), (record.Task, record.Resolution, record.Text!.Vocabulary));
        var other = fixture.Environment with
        {
            TeacherCacheDirectory = _cache,
            Text = new TextRecipe(SequenceLength: 16),
            Spec = ProxySpec.Default with { WidthMultiplier = 0.5 },
        };
        var again = ProxyTrainer.Run(candidate, config with { BatchSize = 16, LearningRate = 0.1 }, other, training: record);
        Assert.True(again.Succeeded, again.FailureReason);
        Assert.Equal((first.Score, first.Loss), (again.Score, again.Loss));
    }
}
