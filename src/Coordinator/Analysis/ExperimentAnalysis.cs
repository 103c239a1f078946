using System.Globalization;
using System.Text.Json.Nodes;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.EvaluatorNode.Analysis;
using NasCluster.EvaluatorNode.Cost;
using NasCluster.EvaluatorNode.Hardware;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Analysis;

/// <summary>Which trials get their per-layer breakdown embedded (re-priced by the experiment's own cost model).</summary>
public enum LayerSelection
{
    /// <summary>The best trial, both Pareto fronts and the top trials by reward: small files for any size of search.</summary>
    Chosen,

    /// <summary>Every completed trial (a large file for a long search).</summary>
    All,
}

/// <summary>
/// Everything the report and the dashboard show of one experiment, computed once from its ledger and its
/// controller's recorded states: a JSON document (docs/analysis.md describes it) that the web page draws
/// and <c>report --json</c> writes. Pure: the same ledger gives the same document, and nothing here reads a
/// database or the clock. Trials are columnar (a decision vector of choice indices per trial, the choices
/// once), so a 10,000-trial search stays a few megabytes.
/// </summary>
public static class ExperimentAnalysis
{
    /// <summary>Top trials by reward whose layers are embedded besides the fronts (with <see cref="LayerSelection.Chosen"/>).</summary>
    public const int TopWithLayers = 25;

    /// <summary>At most this many points of the controller's learning curves (evenly spaced, the last always kept).</summary>
    public const int MaxLearningPoints = 120;

    public static JsonObject Build(StoredExperiment x, IReadOnlyList<ControllerUpdated> steps, LayerSelection layers = LayerSelection.Chosen, string? codeVersion = null)
    {
        var s = x.State;
        var spec = s.Spec;
        var space = SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource);
        var hw = spec.HardwareJson is not null ? HardwareFile.Parse(spec.HardwareJson) : HardwarePresets.Get(spec.Hardware);
        var latencyFront = FrontIds(s, CostMetric.LatencyMs);
        var energyFront = FrontIds(s, CostMetric.EnergyMj);
        var tally = s.Tally();

        var doc = new JsonObject
        {
            ["name"] = x.Name,
            ["state"] = ConditionName(x.Condition),
            ["provenance"] = Provenance(x, space, codeVersion),
            ["decisions"] = Decisions(space),
            ["counts"] = new JsonObject
            {
                ["target"] = spec.Trials,
                ["proposed"] = s.Trials.Count,
                ["completed"] = tally.Completed,
                ["failed"] = tally.Failed,
                ["in_flight"] = tally.InFlight,
                ["reused"] = tally.Reused,
                ["preempted"] = x.Preempted.Count,
            },
            ["best"] = tally.BestTrial?.Id,
            ["best_reward"] = tally.BestReward,
            ["power_budget_w"] = hw.PowerBudgetW,
            ["trials"] = Trials(s, latencyFront, energyFront, hw.PowerBudgetW),
            ["pareto_latency"] = Ids(latencyFront),
            ["pareto_energy"] = Ids(energyFront),
            ["learning"] = Learning(s, space, steps),
            ["stages"] = Stages(s, space, hw),
        };
        doc["layers"] = Layers(s, space, hw, layers == LayerSelection.All ? s.Trials.Where(t => s.Measurement(t) is not null).Select(t => t.Id)
            : Chosen(s, latencyFront, energyFront, tally.BestTrial));
        doc["layers_embedded_for"] = layers == LayerSelection.All ? "every completed trial" : $"the best trial, both Pareto fronts and the top {TopWithLayers} trials by reward";
        return doc;
    }

    public static string ConditionName(ExperimentCondition c) => c switch
    {
        ExperimentCondition.Running => "running",
        ExperimentCondition.Finished => "finished",
        _ => "interrupted",
    };

    private static SortedSet<int> FrontIds(ExperimentState s, CostMetric metric) => new(s.FrontIds(metric));

    private static JsonArray Ids(IEnumerable<int> ids) => new(ids.Select(i => (JsonNode)i).ToArray());

    private static JsonObject Provenance(StoredExperiment x, Space space, string? codeVersion)
    {
        var spec = x.State.Spec;
        return new JsonObject
        {
            ["space"] = spec.SpaceSource,
            ["space_name"] = space.Name,
            ["task"] = space.Task,
            ["space_fingerprint"] = spec.SpaceFingerprint,
            ["space_size_log10"] = Math.Round(space.Log10Size, 2),
            ["hardware"] = spec.Hardware,
            ["hardware_fingerprint"] = spec.HardwareFingerprint,
            ["fidelity"] = Kinds.Name(spec.Fidelity),
            ["simulator"] = spec.SimulatorVersion,
            ["controller"] = Kinds.Name(spec.Controller),
            ["seed"] = spec.Seed,
            ["mode"] = Kinds.Name(spec.Mode),
            ["window"] = spec.Mode == SearchMode.Pipelined ? spec.PipelineWindow : null,
            ["batch"] = spec.BatchSize,
            ["objective"] = x.State.RewardFunction.Describe(),
            ["quality"] = ExperimentSpecs.DescribeQuality(spec),
            ["forked_from"] = spec.ForkedFrom,
            ["created_unix_ms"] = x.State.CreatedUnixMs,
            ["finished_unix_ms"] = x.State.Finished ? x.State.FinishedUnixMs : null,
            ["journal_events"] = x.Events,
            ["code_version"] = codeVersion,
        };
    }

    private static JsonArray Decisions(Space space) => new(space.Decisions.Select(d => (JsonNode)new JsonObject
    {
        ["name"] = d.Name,
        ["field"] = d.Field,
        ["stage"] = d.Stage,
        ["block"] = d.Block,
        ["choices"] = new JsonArray(d.Choices.Select(Value).ToArray()),
    }).ToArray());

    private static JsonNode? Value(ChoiceValue v) => v.Kind switch
    {
        ChoiceKind.Integer => JsonValue.Create(v.AsInteger!.Value),
        ChoiceKind.Real => JsonValue.Create(v.AsDouble),
        _ => JsonValue.Create(v.AsText),
    };

    /// <summary>
    /// One row per trial: id, hash, status, reward, quality, latency, energy, params, MACs, the decision
    /// vector, front membership and the best reward so far (in trial order, over completed trials).
    /// </summary>
    private static JsonArray Trials(ExperimentState s, SortedSet<int> latencyFront, SortedSet<int> energyFront, double powerBudgetW)
    {
        var rows = new JsonArray();
        double? bestSoFar = null;
        foreach (var t in s.Trials)
        {
            var source = s.Source(t);
            var reward = s.Reward(t);
            var completed = s.IsDone(t) && !s.IsFailed(t);
            if (completed && reward is { } r && (bestSoFar is null || r > bestSoFar)) bestSoFar = r;
            var row = new JsonObject
            {
                ["id"] = t.Id,
                ["hash"] = t.Hash,
                ["status"] = s.IsFailed(t) ? "failed" : s.IsDone(t) ? "completed" : "in_flight",
                ["reward"] = Finite(reward),
                ["quality"] = Finite(source.Quality?.Score),
                ["latency_ms"] = Finite(source.Cost?.LatencyMs),
                ["energy_mj"] = Finite(source.Cost?.EnergyMj),
                ["params"] = source.Cost?.Params,
                ["macs"] = source.Cost?.Macs,
                ["v"] = new JsonArray(t.Vector.Select(i => (JsonNode)i).ToArray()),
                ["best_so_far"] = Finite(bestSoFar),
            };
            if (t.ReusedFrom is { } from) row["reused_from"] = from;
            if (s.FailureOf(t) is { } failure) row["failure"] = failure;
            if (latencyFront.Contains(t.Id)) row["pareto_latency"] = true;
            if (energyFront.Contains(t.Id)) row["pareto_energy"] = true;
            if (source.Quality is { } q)
            {
                row["train_seconds"] = Math.Round(q.WallSeconds, 2);
                if (q.Scores.Count > 1)
                {
                    row["quality_se"] = Finite(q.StandardError);
                    row["quality_seeds"] = new JsonArray(q.Scores.Select(x => (JsonNode?)Finite(x)).ToArray());
                }
            }
            // Average power (static included) and whether it exceeds what the chip may draw: such a network would throttle.
            if (source.Cost is { LatencyMs: > 0 } c && double.IsFinite(c.EnergyMj / c.LatencyMs))
            {
                row["power_w"] = c.EnergyMj / c.LatencyMs;
                if (c.EnergyMj / c.LatencyMs > powerBudgetW) row["over_power_budget"] = true;
            }
            rows.Add(row);
        }
        return rows;
    }

    private static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? x : null;

    /// <summary>
    /// How the controller learned. REINFORCE: after each update, the batch's mean reward, the moving-average
    /// baseline, the policy's mean entropy per decision (nats) and every decision's choice probabilities,
    /// from the controller states the journal recorded. Evolution and random search have no policy: the
    /// same curves over windows of proposed trials, with the population's choice frequencies and their entropy.
    /// </summary>
    internal static JsonObject Learning(ExperimentState s, Space space, IReadOnlyList<ControllerUpdated> steps)
    {
        var points = new List<(int Trials, double? MeanReward, double? Baseline, double Entropy, double[][] Probabilities)>();
        string kind;
        if (s.Spec.Controller == ControllerKind.Reinforce && steps.Count > 0)
        {
            kind = "policy";
            var observed = 0;
            foreach (var step in steps)
            {
                observed += step.TrialIds.Count;
                if (Controllers.Restore(space, s.Spec.Controller, step.ControllerState) is not ReinforceController rl) continue;
                var p = rl.Probabilities();
                var mean = step.Rewards.Count == 0 ? (double?)null : step.Rewards.Average();
                points.Add((observed, mean, rl.Baseline, p.Average(Entropy), p));
            }
        }
        else
        {
            kind = "population";
            var trials = s.Trials;
            var window = Math.Max(s.Spec.BatchSize, (int)Math.Ceiling(trials.Count / (double)MaxLearningPoints));
            for (var start = 0; start < trials.Count; start += window)
            {
                var chunk = trials.Skip(start).Take(window).ToList();
                var freq = space.Decisions.Select((d, i) =>
                {
                    var counts = new double[d.Choices.Length];
                    foreach (var t in chunk) counts[t.Vector[i]]++;
                    return counts.Select(c => c / chunk.Count).ToArray();
                }).ToArray();
                var rewards = chunk.Where(t => s.IsDone(t) && !s.IsFailed(t)).Select(t => s.Reward(t)!.Value).ToList();
                points.Add((start + chunk.Count, rewards.Count == 0 ? null : rewards.Average(), null, freq.Average(Entropy), freq));
            }
        }
        var kept = Thin(points.Count);
        return new JsonObject
        {
            ["kind"] = kind,
            ["trials"] = new JsonArray(kept.Select(i => (JsonNode)points[i].Trials).ToArray()),
            ["mean_reward"] = new JsonArray(kept.Select(i => (JsonNode?)Finite(points[i].MeanReward)).ToArray()),
            ["baseline"] = new JsonArray(kept.Select(i => (JsonNode?)Finite(points[i].Baseline)).ToArray()),
            ["entropy"] = new JsonArray(kept.Select(i => (JsonNode)Math.Round(points[i].Entropy, 6)).ToArray()),
            // probabilities[decision][point][choice]
            ["probabilities"] = new JsonArray(space.Decisions.Select((_, d) => (JsonNode)new JsonArray(
                kept.Select(i => (JsonNode)new JsonArray(points[i].Probabilities[d].Select(p => (JsonNode)Math.Round(p, 5)).ToArray())).ToArray())).ToArray()),
        };
    }

    private static double Entropy(double[] p) => -p.Where(x => x > 0).Sum(x => x * Math.Log(x));

    /// <summary>Indices of at most <see cref="MaxLearningPoints"/> evenly spaced points, the last always kept.</summary>
    internal static IReadOnlyList<int> Thin(int count)
    {
        if (count <= MaxLearningPoints) return Enumerable.Range(0, count).ToList();
        var kept = Enumerable.Range(0, MaxLearningPoints).Select(i => (int)Math.Round(i * (count - 1) / (double)(MaxLearningPoints - 1))).Distinct().ToList();
        return kept;
    }

    /// <summary>
    /// Per stage of the space: what the search chose (the best trial's blocks, and the share of each choice
    /// among the top tenth of completed trials) for block type, kernel, expansion and group size, beside what
    /// the neural block analyzer says of that stage's shapes on the experiment's hardware (the variants it
    /// finds dominated there, the fastest one and the one that buys most parameters per microsecond at the
    /// best trial's width). The analyzer's stage map is the classification backbone's at 224×224; other
    /// spaces get the search's side only.
    /// </summary>
    internal static JsonArray Stages(ExperimentState s, Space space, HardwareConfig hw)
    {
        var completed = s.Trials.Where(t => t.ReusedFrom is null && s.IsDone(t) && !s.IsFailed(t)).OrderByDescending(t => s.Reward(t)).ThenBy(t => t.Id).ToList();
        var best = completed.FirstOrDefault();
        var top = completed.Take(Math.Max(1, completed.Count / 10)).ToList();
        var analyzerApplies = space.Task == "classification" && space.Resolution == 224;
        var (rows, rules) = analyzerApplies ? AnalyzerOf(hw) : ([], []);
        var result = new JsonArray();
        string[] fields = ["type", "kernel", "expansion", "group_size"];
        foreach (var stage in space.Decisions.Where(d => d.Stage is not null).Select(d => d.Stage!.Value).Distinct().Order())
        {
            var o = new JsonObject { ["stage"] = stage };
            var chose = new JsonObject();
            foreach (var field in fields)
            {
                var ds = space.Decisions.Select((d, i) => (d, i)).Where(x => x.d.Stage == stage && x.d.Field == field).ToList();
                if (ds.Count == 0) continue;
                var shares = new JsonObject();
                if (top.Count > 0)
                {
                    foreach (var g in top.SelectMany(t => ds.Select(x => x.d.Choices[t.Vector[x.i]].ToString())).GroupBy(v => v).OrderByDescending(g => g.Count()))
                        shares[g.Key] = Math.Round(g.Count() / (double)(top.Count * ds.Count), 4);
                }
                chose[field] = new JsonObject
                {
                    ["best"] = best is null ? null : new JsonArray(ds.Select(x => Value(x.d.Choices[best.Vector[x.i]])).ToArray()),
                    ["top_share"] = shares,
                };
            }
            o["search"] = chose;
            var filters = space.Decisions.Select((d, i) => (d, i)).FirstOrDefault(x => x.d.Stage == stage && x.d.Field == "filters");
            var width = best is not null && filters.d is not null ? filters.d.Choices[best.Vector[filters.i]].AsInteger : null;
            var spatial = BlockAnalyzer.ClassificationStages.Where(kv => kv.Value.Contains(stage)).Select(kv => (int?)kv.Key).FirstOrDefault();
            if (analyzerApplies && spatial is { } size)
            {
                var at = rows.Where(r => r.Spatial == size).ToList();
                var nearest = width is { } w ? BlockAnalyzer.Widths.MinBy(c => Math.Abs(c - w)) : BlockAnalyzer.Widths[BlockAnalyzer.Widths.Length / 2];
                var shape = at.Where(r => r.Channels == nearest).ToList();
                o["analyzer"] = new JsonObject
                {
                    ["spatial"] = size,
                    ["width"] = nearest,
                    ["dominated"] = new JsonArray(rules.Where(r => r.Stages.Contains(stage))
                        .Select(r => (JsonNode)$"{r.Field} {string.Join("/", r.Forbid)}: {r.Why}").ToArray()),
                    ["fastest"] = shape.MinBy(r => r.LatencyUs)?.Variant.Name,
                    ["most_params_per_us"] = shape.MaxBy(r => r.Params / Math.Max(r.LatencyUs, 1e-9))?.Variant.Name,
                    ["variants"] = new JsonArray(shape.Select(r => (JsonNode)new JsonObject
                    {
                        ["variant"] = r.Variant.Name,
                        ["type"] = r.Variant.Type,
                        ["latency_us"] = Math.Round(r.LatencyUs, 3),
                        ["params"] = r.Params,
                        ["utilization"] = Math.Round(r.Utilization, 4),
                    }).ToArray()),
                };
            }
            result.Add(o);
        }
        return result;
    }

    // The analyzer's grid depends only on the hardware: priced once per fingerprint per process (the dashboard redraws often).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (IReadOnlyList<BlockMeasurement>, IReadOnlyList<SuggestedRule>)> Analyzed = new();

    private static (IReadOnlyList<BlockMeasurement> Rows, IReadOnlyList<SuggestedRule> Rules) AnalyzerOf(HardwareConfig hw) =>
        Analyzed.GetOrAdd(HardwareFingerprint.Of(hw), _ =>
        {
            var rows = BlockAnalyzer.Measure(hw);
            return (rows, BlockAnalyzer.SuggestRules(BlockAnalyzer.MeasureStages(hw), hw));
        });

    private static SortedSet<int> Chosen(ExperimentState s, SortedSet<int> latencyFront, SortedSet<int> energyFront, TrialState? best)
    {
        var top = s.Trials.Where(t => t.ReusedFrom is null && s.Measurement(t) is not null)
            .OrderByDescending(t => s.Reward(t)).ThenBy(t => t.Id).Take(TopWithLayers).Select(t => t.Id);
        var ids = new SortedSet<int>(latencyFront.Concat(energyFront).Concat(top));
        if (best is not null) ids.Add(s.Source(best).Id);
        return ids;
    }

    /// <summary>
    /// Per-layer cost of each chosen trial, re-priced with the experiment's hardware and fidelity
    /// (deterministic: the same numbers the trial was priced with). The process-wide layer cache serves
    /// every rebuild, so the dashboard re-prices only layers it has not seen.
    /// </summary>
    private static JsonObject Layers(ExperimentState s, Space space, HardwareConfig hw, IEnumerable<int> ids)
    {
        var cache = LayerCostCache.Shared;
        var o = new JsonObject();
        foreach (var id in ids)
        {
            var t = s.Source(s.Trials[id]);
            var network = space.Build(space.FromVector(t.Vector));
            var r = CostModel.Estimate(network, hw, s.Spec.Fidelity, cache);
            o[id.ToString(CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["network"] = new JsonObject
                {
                    ["name"] = network.Name,
                    ["hash"] = network.Hash,
                    ["layers"] = network.Layers.Length,
                    ["params"] = r.Params,
                    ["macs"] = r.Macs,
                    ["latency_ms"] = r.LatencyMs,
                    ["runtime_overhead_ms"] = r.RuntimeOverheadMs,
                    ["host_ms"] = r.Host.TotalMs,
                    ["cpu_ms"] = r.Host.CpuMs,
                    ["segments"] = new JsonArray(r.Segments.Select(g => (JsonNode)$"{g.Device} {g.FirstLayer}{(g.Layers > 1 ? " … " + g.LastLayer : "")}").ToArray()),
                    ["energy_mj"] = r.EnergyMj,
                    ["power_w"] = r.PowerW,
                    ["average_power_w"] = r.AveragePowerW,
                    ["over_power_budget"] = r.OverPowerBudget,
                    ["utilization"] = r.Utilization,
                    ["cached_weight_bytes"] = r.CachedWeightBytes,
                    ["streamed_weight_bytes"] = r.StreamedWeightBytes,
                    ["activation_spill_bytes"] = r.ActivationSpillBytes,
                },
                // name, op, latency_ms, energy_uj, utilization, bound, macs
                ["rows"] = new JsonArray(r.Layers.Select(l => (JsonNode)new JsonArray(
                    l.Name, l.Op, Math.Round(l.LatencyMs, 6), Math.Round(l.EnergyUj, 4), Math.Round(l.Utilization, 4), CostReportWire.Name(l.Bound), l.Macs)).ToArray()),
            };
        }
        return o;
    }
}
