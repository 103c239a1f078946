using System.Globalization;
using NasCluster.Coordinator.Experiments;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// A ledger as a real search leaves it — 60 trials of REINFORCE in batches of 10 over a 24-candidate space, so
/// many proposals repeat (reused trials); some trainings miss every deadline and one architecture cannot be
/// priced (failed trials); retries, controller updates and a Pareto front — built only through the
/// state's own decisions. Every spec field is a literal, so the bytes do not move when a built-in space,
/// preset or the simulator version changes. The golden snapshot files are written from it.
/// </summary>
public static class RealisticLedger
{
    public const string SpaceJson = """
        {
          "format": "nascluster-space", "version": 1, "name": "golden", "task": "classification",
          "input": {"resolution": 32},
          "backbone": {
            "stem": {"filters": 16, "kernel": {"choices": [3, 5]}, "stride": 2},
            "stages": [{"name": "a", "filters": {"choices": [16, 24, 32]}, "stride": 1,
                        "blocks": [{"type": "fused", "kernel": {"choices": [3, 5]}, "expansion": {"choices": [1, 4]}}]}]
          },
          "head": {"type": "classification", "classes": 10}
        }
        """;

    public static (ExperimentState State, Space Space) Build()
    {
        var space = SearchSpaceLoader.Parse(SpaceJson, "golden-space.json");
        var reward = new RewardSpec("mnas", 1.5, null, null, -0.07, -0.07, 0.0);
        var spec = new ExperimentSpec("golden", SpaceJson, "golden-space.json", space.Fingerprint, ControllerKind.Reinforce, 7, 60, 10, false,
            "pixel6", null, "hw-golden", "pixel6", "clock_hz=1066000000;pe_x=4;pe_y=4", Fidelity.Analytical, "ppe-golden", reward,
            QualityMode.Synthetic, 300, 3, 30_000, 600_000, 1000, null);
        var controller = NasCluster.Coordinator.Search.Controllers.Create(spec.Controller, space, spec.Seed);
        var s = ExperimentState.Created(new ExperimentCreated(spec, controller.ExportState(), 1_764_000_000_000));
        var now = 1_764_000_000_000L;
        var unpriceable = false; // the first architecture priced after the first batch does not fit the hardware
        while (!s.Finished)
        {
            var events = s.Next(space, now += 1000);
            if (events.Count > 0)
            {
                foreach (var e in events) s = s.Apply(e);
                continue;
            }
            foreach (var id in s.Trials.Where(t => s.Needs(t, WorkKind.Cost)).Select(t => t.Id).ToList())
            {
                var d = s.Dispatch(id, WorkKind.Cost, "evaluator", now += 7);
                s = s.Apply(d);
                if (id >= 10 && !unpriceable)
                {
                    unpriceable = true;
                    s = s.Apply(s.OnAttemptFailed(id, WorkKind.Cost, d.Attempt, "does not fit the parameter cache", permanent: true)!);
                    continue;
                }
                var u = Unit(s.Trials[id].Hash);
                s = s.Apply(s.OnCost(id, new CostSummary(0.8 + u, 0.7 + u, 0.4 + u / 3, 1.5, 0.3 + u / 4, 100_000 + (long)(u * 50_000), 3_000_000, 90_000, 0),
                    "akka.tcp://nascluster@127.0.0.1:4054")!);
            }
            foreach (var id in s.Trials.Where(t => s.Needs(t, WorkKind.Quality)).Select(t => t.Id).ToList())
            {
                var misses = id % 9 == 4 ? 3 : id % 5 == 2 ? 1 : 0; // every attempt, or only the first, misses its deadline
                for (var attempt = 1; s.Needs(s.Trials[id], WorkKind.Quality); attempt++)
                {
                    var d = s.Dispatch(id, WorkKind.Quality, $"trainer-{id % 2}", now += 11);
                    s = s.Apply(d);
                    if (attempt <= misses)
                    {
                        if (s.OnAttemptFailed(id, WorkKind.Quality, d.Attempt, "deadline passed") is { } failed) s = s.Apply(failed);
                        continue;
                    }
                    var network = space.Build(space.FromVector(s.Trials[id].Vector));
                    s = s.Apply(s.OnQuality(id, SyntheticQuality.Of(network), 0.25 + Unit(network.Hash) / 10, 12.5, 24.0, $"trainer-{id % 2}",
                        $"weights/golden/trial{id.ToString(CultureInfo.InvariantCulture)}.bin", network.Hash[..16])!);
                }
            }
        }
        return (s, space);
    }

    private static double Unit(string hash) => Convert.ToUInt32(hash[..8], 16) / (double)uint.MaxValue;
}
