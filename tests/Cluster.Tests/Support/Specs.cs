using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Search;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>Experiment specs and spaces for tests.</summary>
public static class Specs
{
    /// <summary>A space of four candidates (two stem kernels × two filter counts): a batch of ten must repeat some.</summary>
    public const string TinySpaceJson = """
        {
          "format": "nascluster-space", "version": 1, "name": "tiny", "task": "classification",
          "input": {"resolution": 32},
          "backbone": {
            "stem": {"filters": 16, "kernel": {"choices": [3, 5]}, "stride": 2},
            "stages": [{"name": "a", "filters": {"choices": [16, 24]}, "stride": 1, "blocks": [{"type": "fused", "kernel": 3, "expansion": 1}]}]
          },
          "head": {"type": "classification", "classes": 10}
        }
        """;

    public static string WriteTinySpace(string directory)
    {
        var path = Path.Combine(directory, "tiny-space.json");
        File.WriteAllText(path, TinySpaceJson);
        return path;
    }

    public static SearchRequest Request(string name, int trials = 20, int batch = 5, long seed = 1, string space = "mnv2-edgetpu-classification") => new()
    {
        Name = name,
        Space = space,
        Trials = trials,
        BatchSize = batch,
        Seed = seed,
        Quality = "synthetic",
        MaxAttempts = 3,
    };

    public static ExperimentSpec Spec(string name = "exp", int trials = 20, int batch = 5, long seed = 1, bool asynchronous = false, string space = "mnv2-edgetpu-classification",
        SearchMode? mode = null, int? window = null) =>
        ExperimentSpecs.Build(Request(name, trials, batch, seed, space) with
        {
            Mode = mode ?? (asynchronous ? SearchMode.Asynchronous : SearchMode.Synchronous),
            Window = window,
        });

    public static (ExperimentState State, Space Space) Created(ExperimentSpec spec)
    {
        var space = SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource);
        var controller = Controllers.Create(spec.Controller, space, spec.Seed);
        return (ExperimentState.Created(new ExperimentCreated(spec, controller.ExportState(), 1_700_000_000_000)), space);
    }
}
