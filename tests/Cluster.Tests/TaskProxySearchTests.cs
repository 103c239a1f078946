using System.Text.Json;
using NasCluster.Cluster.Tests.Support;

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
    public void A_space_no_proxy_trains_yet_is_refused_before_anything_starts()
    {
        using var db = new TestDatabase("sqlite");
        var r = Cli("search", "--space", "mobilebert-edgetpu", "--name", "det", "--trials", "2", "--quality", "proxy", "--db", db.Url);
        Assert.Equal(2, r.Code);
        Assert.Contains("is a nlp space; the quality proxies train image classifiers, segmenters and SSD detectors", r.Err);
        var status = Cli("status", "det", "--db", db.Url);
        Assert.Equal(2, status.Code); // nothing was written
        Assert.DoesNotContain("det (", status.Out);
    }
}
