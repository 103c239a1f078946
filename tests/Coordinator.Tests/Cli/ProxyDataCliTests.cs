using NasCluster.Coordinator.Experiments;
using NasCluster.Shared.Protocol;
using NasCluster.TrainerNode.Data;
using NasCluster.TrainerNode.Tests;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Tests.Cli;

/// <summary>
/// A search or a proxy run on the user's own images: the dataset is read and checked before anything starts,
/// and a search records it (content hash, classes, channels) with its training recipe.
/// </summary>
public sealed class ProxyDataCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string[] Search(string db, string data) =>
        ["search", "--space", "mnv2-edgetpu-classification", "--name", "own-data", "--trials", "2", "--batch", "1", "--db", db, "--data", data];

    [Fact]
    public void A_search_on_a_bad_dataset_exits_2_naming_it_before_any_experiment_is_written()
    {
        var db = _dir.File("x.db");
        CliResult.Run(Search(db, _dir.File("missing"))).AssertBadInput("no such directory", "missing");
        var empty = Directory.CreateDirectory(_dir.File("empty")).FullName;
        CliResult.Run(Search(db, empty)).AssertBadInput("no dataset here", "one folder of images per class");
        var one = _dir.File("one-class");
        PillowDataset.Write(one, perClass: 25, classes: ["disc"]);
        CliResult.Run(Search(db, one)).AssertBadInput("a single class ('disc')");
        var broken = _dir.File("broken");
        PillowDataset.Write(broken, perClass: 10);
        File.WriteAllText(Path.Combine(broken, "square", "009.png"), "not a png");
        CliResult.Run(Search(db, broken)).AssertBadInput("not an image this trainer can decode", "009.png");
        Assert.False(File.Exists(db)); // refused before the database was opened
    }

    [Fact]
    public void The_proxy_command_refuses_a_directory_without_a_dataset()
    {
        var empty = Directory.CreateDirectory(_dir.File("empty")).FullName;
        CliResult.Run("proxy", "mobilenet-v2", "--steps", "5", "--no-distillation", "--data", empty)
            .AssertBadInput("no dataset here", empty);
    }

    [Fact]
    public void A_proxy_search_records_its_folder_dataset_by_content_and_the_record_survives_the_journal()
    {
        var shapes = _dir.File("shapes");
        PillowDataset.Write(shapes, perClass: 12);
        var spec = ExperimentSpecs.Build(new SearchRequest
        {
            Name = "own-data", Space = "mnv2-edgetpu-classification", Trials = 2, BatchSize = 1, Quality = "proxy", Data = shapes,
        });
        var data = spec.Training!.Data;
        Assert.Equal(("folder", Path.GetFullPath(shapes), 3, 3), (data.Kind, data.Source, data.Classes, data.Channels)); // some images are RGB
        Assert.Equal(Datasets.Load(shapes).Fingerprint, data.ContentHash);
        Assert.True(data.TrainImages + data.ValidationImages < 36 && data.TrainImages > data.ValidationImages && data.ValidationImages > 0); // a test split is held out
        Assert.Equal(["disc", "square", "stripes"], data.ClassNames);
        Assert.Contains($"folder dataset {Path.GetFullPath(shapes)} (3 classes, 3 channels, content {data.ContentHash})", ExperimentSpecs.DescribeQuality(spec));

        // The spec is the journal's first event: the recorded training reads back as written.
        var created = new ExperimentCreated(spec, "{}", 1);
        var back = (ExperimentCreated)NasSerializer.FromBytes(NasSerializer.ToBytes(created), NasSerializer.Manifests[typeof(ExperimentCreated)]);
        Assert.Equal(NasSerializer.ToBytes(created), NasSerializer.ToBytes(back));
        Assert.Equal(data with { ClassNames = null }, back.Spec.Training!.Data with { ClassNames = null });
        Assert.Equal(data.ClassNames, back.Spec.Training.Data.ClassNames);

        // A synthetic search trains nothing and records no training.
        Assert.Null(ExperimentSpecs.Build(new SearchRequest { Name = "s", Space = "mnv2-edgetpu-classification", Quality = "synthetic", Data = shapes }).Training);
    }
}
