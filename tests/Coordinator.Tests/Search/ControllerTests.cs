using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;

namespace NasCluster.Coordinator.Tests.Search;

public class ControllerTests
{
    /// <summary>A toy space of 8 four-way decisions whose optimum is known: every decision at its target choice.</summary>
    internal static Space Toy() => SearchSpaceLoader.Parse("""
        {
          "format": "nascluster-space", "version": 1, "name": "toy", "task": "classification",
          "input": {"resolution": 32},
          "backbone": {
            "stem": {"filters": 8, "kernel": 3},
            "stages": [{"name": "s", "filters": 8, "repeats": 4, "per_block": true,
              "block": {"type": {"choices": ["dw", "fused", "gc", "sep"]}, "kernel": {"choices": [1, 3, 5, 7]}, "expansion": 2}}]
          },
          "head": {"type": "classification", "classes": 10}
        }
        """);

    private static readonly int[] Target = [2, 1, 3, 0, 1, 2, 0, 3];

    /// <summary>Fraction of decisions at their target, plus a small deterministic wobble.</summary>
    private static double ToyReward(Candidate c) => c.Vector.Select((v, i) => v == Target[i] ? 1.0 : 0.0).Average();

    private static void Feed(ISearchController controller, int batches, int batchSize)
    {
        for (var b = 0; b < batches; b++)
        {
            var proposed = controller.Propose(batchSize);
            controller.Observe(proposed.Select(c => new Observation(c, ToyReward(c))).ToList());
        }
    }

    [Fact]
    public void Reinforce_converges_to_the_known_optimum_of_a_toy_space()
    {
        var space = Toy();
        var controller = (ReinforceController)Controllers.Create("reinforce", space, seed: 1, new ControllerOptions { LearningRate = 0.1 });
        Feed(controller, batches: 150, batchSize: 16);
        var p = controller.Probabilities();
        for (var d = 0; d < Target.Length; d++)
            Assert.True(p[d][Target[d]] > 0.9, $"decision {d}: p(target) = {p[d][Target[d]]:F3}");
        Assert.True(controller.Propose(100).Average(ToyReward) > 0.9);
    }

    [Fact]
    public void Evolution_finds_the_known_optimum_of_a_toy_space()
    {
        var space = Toy();
        var controller = Controllers.Create("evolution", space, seed: 2, new ControllerOptions { PopulationSize = 32, TournamentSize = 8 });
        var best = 0.0;
        for (var b = 0; b < 100 && best < 1; b++)
        {
            var proposed = controller.Propose(8);
            controller.Observe(proposed.Select(c => new Observation(c, ToyReward(c))).ToList());
            best = Math.Max(best, proposed.Max(ToyReward));
        }
        Assert.Equal(1.0, best);
    }

    [Theory]
    [InlineData("reinforce")]
    [InlineData("evolution")]
    [InlineData("random")]
    public void Same_seed_same_proposals(string kind)
    {
        var a = Controllers.Create(kind, Toy(), 7);
        var b = Controllers.Create(kind, Toy(), 7);
        var c = Controllers.Create(kind, Toy(), 8);
        Feed(a, 3, 8);
        Feed(b, 3, 8);
        Feed(c, 3, 8);
        Assert.Equal(a.Propose(8).Select(x => x.Key), b.Propose(8).Select(x => x.Key));
        Assert.NotEqual(a.Propose(8).Select(x => x.Key), c.Propose(8).Select(x => x.Key));
    }

    /// <summary>Export mid-run, import into a fresh controller (through JSON), continue: the same proposals as uninterrupted.</summary>
    [Theory]
    [InlineData("reinforce")]
    [InlineData("evolution")]
    [InlineData("random")]
    public void Resume_from_exported_state_continues_exactly(string kind)
    {
        var space = Toy();
        var options = new ControllerOptions { PopulationSize = 12, TournamentSize = 4 };
        var uninterrupted = Controllers.Create(kind, space, 11, options);
        var interrupted = Controllers.Create(kind, space, 11, options);
        Feed(uninterrupted, 5, 6);
        Feed(interrupted, 5, 6);
        var state = interrupted.ExportState();
        var restored = Controllers.Restore(SearchSpaceLoader.Parse(BuiltInDoc()), kind, state);
        Assert.Equal(state, restored.ExportState());
        for (var b = 0; b < 10; b++)
        {
            var x = uninterrupted.Propose(6);
            var y = restored.Propose(6);
            Assert.Equal(x.Select(c => c.Key), y.Select(c => c.Key));
            uninterrupted.Observe(x.Select(c => new Observation(c, ToyReward(c))).ToList());
            restored.Observe(y.Select(c => new Observation(c, ToyReward(c))).ToList());
        }
        Assert.Equal(uninterrupted.ExportState(), restored.ExportState());
    }

    private static string BuiltInDoc() => """
        {
          "format": "nascluster-space", "version": 1, "name": "toy", "task": "classification",
          "input": {"resolution": 32},
          "backbone": {
            "stem": {"filters": 8, "kernel": 3},
            "stages": [{"name": "s", "filters": 8, "repeats": 4, "per_block": true,
              "block": {"type": {"choices": ["dw", "fused", "gc", "sep"]}, "kernel": {"choices": [1, 3, 5, 7]}, "expansion": 2}}]
          },
          "head": {"type": "classification", "classes": 10}
        }
        """;

    [Fact]
    public void State_from_another_space_is_refused()
    {
        var state = Controllers.Create("reinforce", Toy(), 1).ExportState();
        Assert.Throws<NasInputException>(() => Controllers.Restore(BuiltInSpaces.Load("mnv2-edgetpu-classification"), "reinforce", state));
        Assert.Throws<NasInputException>(() => Controllers.Create("annealing", Toy(), 1));
    }

    [Fact]
    public void A_candidate_proposed_twice_reuses_its_result()
    {
        var space = Toy();
        var evaluations = 0;
        var runner = new SearchRunner(space, Controllers.Create("reinforce", space, 3, new ControllerOptions { LearningRate = 0.3 }),
            RewardFunction.QualityOnly, net =>
            {
                evaluations++;
                return (new TrialMeasurement(net.Params / 1e4, 1, 1, net.Params), null);
            });
        runner.Run(trials: 600, batchSize: 20);
        Assert.Equal(600, runner.Trials.Count);
        Assert.Equal(evaluations, runner.Evaluations);
        var reused = runner.Trials.Where(t => t.Reused).ToList();
        Assert.NotEmpty(reused); // a converging controller repeats itself
        Assert.Equal(runner.Trials.Count - reused.Count, runner.Trials.Select(t => t.ArchitectureHash).Distinct().Count());
        foreach (var t in reused)
        {
            var first = runner.Trials.First(x => x.ArchitectureHash == t.ArchitectureHash);
            Assert.False(first.Reused);
            Assert.Equal(first.Measurement, t.Measurement);
            Assert.Equal(first.Reward, t.Reward);
        }
    }
}
