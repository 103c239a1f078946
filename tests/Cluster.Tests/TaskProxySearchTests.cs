using System.Text.Json;
using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Experiments;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Training;
using NasCluster.TrainerNode.Worker;

namespace NasCluster.Cluster.Tests;

/// <summary>
/// `search --quality proxy` on the spaces of other tasks, through the real command line with real training
/// (tiny budgets): each candidate is trained for its own task and scored by that task's metric.
/// </summary>
[Trait("Tier", "slow")]
public sealed class TaskProxySearchTests
{
    private static (int Code, string Out, string Err) Cli(params string[] args) => InProcessCli.Run(args);

    [Fact]
    public void A_proxy_search_of_the_segmentation_space_trains_every_candidate_on_scenes_and_scores_its_miou()
    {
        using var db = new TestDatabase("sqlite");
        var run = Cli("search", "--space", "autoseg-edgetpu", "--name", "seg", "--trials", "3", "--batch", "3", "--quality", "proxy", "--proxy-steps", "5",
            "--db", db.Url);
        Assert.True(run.Code == 0, run.Err);
        var status = Cli("status", "seg", "--db", db.Url);
        Assert.Contains("per-pixel cross-entropy on 64×64 scenes", status.Out);
        Assert.Contains("score mIoU", status.Out);
        var root = JsonDocument.Parse(Cli("status", "seg", "--db", db.Url, "--json").Out).RootElement;
        Assert.Equal(("segmentation", "mIoU"), (root.GetProperty("proxy_task").GetString(), root.GetProperty("proxy_metric").GetString()));
        Assert.Equal(3, root.GetProperty("trials_completed").GetInt32());
        foreach (var t in root.GetProperty("trials").EnumerateArray())
            Assert.InRange(t.GetProperty("quality").GetDouble(), 1e-6, 1.0);
    }

    [Fact]
    public void A_proxy_search_of_the_detection_space_trains_every_candidates_ssd_head_on_scenes_and_scores_its_map()
    {
        using var db = new TestDatabase("sqlite");
        var run = Cli("search", "--space", "spaghetti-detection", "--name", "det", "--trials", "2", "--batch", "2", "--quality", "proxy", "--proxy-steps", "5",
            "--db", db.Url);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("SSD losses (anchor matching", Cli("status", "det", "--db", db.Url).Out);
        var root = JsonDocument.Parse(Cli("status", "det", "--db", db.Url, "--json").Out).RootElement;
        Assert.Equal(("detection", "mAP@0.5"), (root.GetProperty("proxy_task").GetString(), root.GetProperty("proxy_metric").GetString()));
        Assert.Equal(2, root.GetProperty("trials_completed").GetInt32());
        foreach (var t in root.GetProperty("trials").EnumerateArray())
            Assert.InRange(t.GetProperty("quality").GetDouble(), 0.0, 1.0);
    }

    [Fact]
    public async Task A_proxy_search_of_the_nlp_space_distils_every_candidate_on_wordnet_glosses_and_scores_its_accuracy()
    {
        // Through the cluster's API (not the command line) so the search can name a small text teacher: seconds, not the default's minutes.
        var dir = Directory.CreateTempSubdirectory("nascluster-nlp-search-").FullName;
        try
        {
            var db = Path.Combine(dir, "nlp.db");
            var teacher = new TeacherConfig { Steps = 30, BatchSize = 32, LearningRate = 0.002, Seed = 7, Widths = [32, 16, 1] };
            var environment = new ProxyEnvironment { TeacherCacheDirectory = Path.Combine(dir, "teachers") };
            var spec = ExperimentSpecs.Build(Specs.Request("nlp", trials: 2, batch: 2, space: "mobilebert-edgetpu") with
            {
                Quality = "proxy",
                ProxySteps = 5,
                Teacher = teacher,
            });
            Assert.Equal(("nlp", 32, Glosses.Kind), (spec.Training!.Task, spec.Training.Resolution, spec.Training.Data.Kind));
            Assert.Equal(teacher.Widths, spec.Training.Teacher.Widths); // the text teacher the trainers will distil from
            await using (var node = await Nodes.Start(db, ["coordinator", "evaluator", "trainer"], trainer: new TrainerAgentSettings("t", 1, environment, Path.Combine(dir, "weights"))))
                await (await Nodes.StartSearch(node, spec)).WaitAsync(TimeSpan.FromMinutes(5));
            Assert.Contains("distillation from a text teacher on WordNet glosses", Cli("status", "nlp", "--db", db).Out);
            var root = JsonDocument.Parse(Cli("status", "nlp", "--db", db, "--json").Out).RootElement;
            Assert.Equal(("nlp", "accuracy"), (root.GetProperty("proxy_task").GetString(), root.GetProperty("proxy_metric").GetString()));
            Assert.Equal(2, root.GetProperty("trials_completed").GetInt32());
            foreach (var t in root.GetProperty("trials").EnumerateArray())
                Assert.InRange(t.GetProperty("quality").GetDouble(), 1e-6, 1.0);
            Assert.True(Directory.EnumerateFiles(Path.Combine(dir, "teachers"), "teacher.json", SearchOption.AllDirectories).Any());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void An_nlp_search_without_wordnet_is_refused_before_anything_starts()
    {
        using var db = new TestDatabase("sqlite");
        var empty = Directory.CreateTempSubdirectory("nascluster-no-wordnet-").FullName;
        try
        {
            var r = Cli("search", "--space", "mobilebert-edgetpu", "--name", "nlp", "--trials", "2", "--quality", "proxy", "--data", empty, "--db", db.Url);
            Assert.Equal(2, r.Code);
            Assert.Contains("no WordNet noun data here", r.Err);
            Assert.Equal(2, Cli("status", "nlp", "--db", db.Url).Code); // nothing was written
        }
        finally
        {
            Directory.Delete(empty, true);
        }
    }
}
