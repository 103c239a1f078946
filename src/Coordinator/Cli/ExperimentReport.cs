using System.Globalization;
using System.Text.Json;
using NasCluster.Coordinator.Experiments;
using NasCluster.Coordinator.Hosting;
using NasCluster.Coordinator.Rewards;
using NasCluster.Shared.Protocol;
using Spectre.Console;

namespace NasCluster.Coordinator.Cli;

/// <summary>
/// How an experiment is reported: the JSON of <c>status --json</c> (a stable document for scripts) and the
/// tables of <c>status</c> and of the summary <c>search</c>/<c>resume</c> end with.
/// </summary>
internal static class ExperimentReport
{
    public static string ConditionName(ExperimentCondition c) => Analysis.ExperimentAnalysis.ConditionName(c);

    /// <summary>The status document; <paramref name="trials"/> false leaves out the per-trial list.</summary>
    public static void WriteJson(Utf8JsonWriter w, StoredExperiment x, bool trials = true)
    {
        var s = x.State;
        var spec = s.Spec;
        var tally = s.Tally();
        w.WriteStartObject();
        w.WriteString("name", x.Name);
        w.WriteString("state", ConditionName(x.Condition));
        w.WriteString("space", spec.SpaceSource);
        w.WriteString("space_fingerprint", spec.SpaceFingerprint);
        w.WriteString("controller", Kinds.Name(spec.Controller));
        w.WriteNumber("seed", spec.Seed);
        w.WriteString("mode", Kinds.Name(spec.Mode));
        if (spec.Mode == SearchMode.Pipelined) w.WriteNumber("window", spec.PipelineWindow);
        w.WriteNumber("batch", spec.BatchSize);
        w.WriteString("hardware", spec.Hardware);
        w.WriteString("simulator", spec.SimulatorVersion);
        w.WriteString("fidelity", Kinds.Name(spec.Fidelity));
        w.WriteString("objective", s.RewardFunction.Describe());
        w.WriteString("quality", Kinds.Name(spec.QualityMode));
        w.WriteNumber("proxy_steps", spec.ProxySteps);
        w.WriteNumber("proxy_seeds", spec.Seeds);
        if (spec.QualityMode == QualityMode.Proxy)
        {
            w.WriteString("proxy_task", spec.Training?.Task ?? "classification");
            w.WriteString("proxy_metric", ExperimentSpecs.QualityMetric(spec));
        }
        if (spec.Training is { } training)
        {
            w.WriteStartObject("proxy_data");
            w.WriteString("kind", training.Data.Kind);
            w.WriteString("source", training.Data.Source);
            w.WriteString("content_hash", training.Data.ContentHash);
            w.WriteNumber("classes", training.Data.Classes);
            w.WriteNumber("channels", training.Data.Channels);
            w.WriteNumber("train_images", training.Data.TrainImages);
            w.WriteNumber("validation_images", training.Data.ValidationImages);
            w.WriteEndObject();
        }
        if (spec.ForkedFrom is not null) w.WriteString("forked_from", spec.ForkedFrom);
        w.WriteNumber("trials_target", spec.Trials);
        w.WriteNumber("trials_proposed", s.Trials.Count);
        w.WriteNumber("trials_completed", tally.Completed);
        w.WriteNumber("trials_failed", tally.Failed);
        w.WriteNumber("trials_in_flight", tally.InFlight);
        w.WriteNumber("trials_reused", tally.Reused);
        // Attempts whose node left the cluster: not failures (a failed trial is in trials_failed).
        w.WriteNumber("attempts_preempted", x.Preempted.Count);
        w.WriteNumber("trials_preempted", x.PreemptedTrials);
        w.WritePropertyName("best");
        if (tally.BestTrial is { } best) WriteTrial(w, s, best, brief: true);
        else w.WriteNullValue();
        w.WriteStartArray("pareto");
        foreach (var id in s.FrontIds(CostMetric.LatencyMs)) w.WriteNumberValue(id);
        w.WriteEndArray();
        w.WriteNumber("created_unix_ms", s.CreatedUnixMs);
        if (s.Finished) w.WriteNumber("finished_unix_ms", s.FinishedUnixMs);
        w.WriteStartObject("journal");
        w.WriteNumber("events", x.Events);
        w.WriteNumber("bytes", x.JournalBytes);
        if (x.SnapshotSequenceNr is { } seq) w.WriteNumber("snapshot_sequence_nr", seq);
        w.WriteEndObject();
        if (trials)
        {
            w.WriteStartArray("trials");
            var preempted = x.Preempted.GroupBy(p => p.TrialId).ToDictionary(g => g.Key, g => g.Count());
            foreach (var t in s.Trials) WriteTrial(w, s, t, brief: false, preempted);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteTrial(Utf8JsonWriter w, ExperimentState s, TrialState t, bool brief, Dictionary<int, int>? preempted = null)
    {
        var source = s.Source(t);
        w.WriteStartObject();
        w.WriteNumber("id", t.Id);
        w.WriteString("hash", t.Hash);
        w.WriteString("status", s.IsFailed(t) ? "failed" : s.IsDone(t) ? "completed" : "in_flight");
        if (s.Reward(t) is { } reward) w.WriteNumber("reward", reward);
        else w.WriteNull("reward");
        Number(w, "quality", source.Quality?.Score);
        if (s.Spec.Seeds > 1)
        {
            // Every training's score as it stands (null: not in yet), and the mean's standard error once all are.
            Number(w, "quality_se", source.Quality?.StandardError);
            w.WriteStartArray("quality_seeds");
            foreach (var u in source.Units)
                if (u is { } q) w.WriteNumberValue(q.Score);
                else w.WriteNullValue();
            w.WriteEndArray();
        }
        Number(w, "latency_ms", source.Cost?.LatencyMs);
        Number(w, "energy_mj", source.Cost?.EnergyMj);
        if (source.Cost is { } c)
        {
            w.WriteNumber("params", c.Params);
            w.WriteNumber("macs", c.Macs);
        }
        if (!brief)
        {
            if (t.ReusedFrom is { } r) w.WriteNumber("reused_from", r);
            if (s.FailureOf(t) is { } failure) w.WriteString("failure", failure);
            w.WriteNumber("cost_attempts", t.CostAttempts);
            w.WriteNumber("quality_attempts", t.QualityAttempts);
            if (preempted is not null && preempted.TryGetValue(t.Id, out var n)) w.WriteNumber("preempted", n);
            if (t.CostNode is not null) w.WriteString("evaluator", t.CostNode);
            if (t.Quality is { } q)
            {
                w.WriteString("trainer", q.Worker);
                w.WriteNumber("train_seconds", q.WallSeconds);
                if (q.WeightsPath is not null) w.WriteString("weights", q.WeightsPath);
            }
            w.WriteStartArray("vector");
            foreach (var v in t.Vector) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } x && double.IsFinite(x)) w.WriteNumber(name, x);
        else w.WriteNull(name);
    }

    /// <summary>The human summary: settings and counts, the best trials, and the Pareto front.</summary>
    public static void WriteText(CliOutput o, StoredExperiment x, int top = 10)
    {
        var s = x.State;
        var spec = s.Spec;
        var tally = s.Tally();
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("experiment", Markup.Escape($"{x.Name} ({ConditionName(x.Condition)})" + (spec.ForkedFrom is null ? "" : $", forked from {spec.ForkedFrom}")));
        grid.AddRow("space", Markup.Escape(spec.SpaceSource));
        grid.AddRow("search", Markup.Escape($"{Kinds.Name(spec.Controller)}, seed {spec.Seed}, {spec.ModeDescription}"));
        grid.AddRow("objective", Markup.Escape(s.RewardFunction.Describe()));
        grid.AddRow("hardware", Markup.Escape($"{spec.Hardware} ({Kinds.Name(spec.Fidelity)} {spec.SimulatorVersion})"));
        grid.AddRow("quality", Markup.Escape(ExperimentSpecs.DescribeQuality(spec)));
        grid.AddRow("trials", $"{tally.Completed} completed, {tally.Failed} failed, {tally.InFlight} in flight of {spec.Trials}" +
                              (tally.Reused > 0 ? $" ({tally.Reused} repeats reused an earlier result)" : ""));
        if (x.Preempted.Count > 0)
            grid.AddRow("preempted", $"{x.Preempted.Count} attempts of {x.PreemptedTrials} trials ended when their node left the cluster " +
                                     "and went out again (not failures)");
        grid.AddRow("journal", $"{x.Events:N0} events, {Format.Bytes(x.JournalBytes)}");
        o.Console.Write(grid);

        var ranked = s.Trials.Where(t => s.IsDone(t) && !s.IsFailed(t) && t.ReusedFrom is null)
            .Select(t => (t, r: s.Reward(t)!.Value)).OrderByDescending(x => x.r).ThenBy(x => x.t.Id).Take(top).ToList();
        if (ranked.Count > 0)
        {
            o.Console.Write(new Rule($"[bold]Best {ranked.Count} trials[/] by reward").LeftJustified());
            o.Console.Write(TrialTable(s, ranked.Select(x => x.t)));
        }
        var front = s.FrontIds(CostMetric.LatencyMs).Select(id => s.Trials[id]).ToList();
        if (front.Count > 0)
        {
            o.Console.Write(new Rule($"[bold]Pareto front[/] (quality vs latency, {front.Count} trials)").LeftJustified());
            o.Console.Write(TrialTable(s, front, noiseColumn: spec.Seeds > 1));
            if (spec.Seeds > 1)
                o.Out.WriteLine("  noise: \"within\" when the quality is not told apart from the next trial's on the front (difference ≤ 2 standard errors)");
        }
        var failures = s.Trials.Where(s.IsFailed).GroupBy(t => s.FailureOf(t)).OrderByDescending(g => g.Count()).Take(5).ToList();
        if (failures.Count > 0)
        {
            o.Console.Write(new Rule("[bold]Failures[/]").LeftJustified());
            foreach (var g in failures) o.Out.WriteLine($"  {g.Count(),4} × {g.Key}");
        }
    }

    private static Table TrialTable(ExperimentState s, IEnumerable<TrialState> trials, bool noiseColumn = false)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("trial", "hash", "reward", "quality", "latency ms", "energy mJ", "params", "MACs");
        if (noiseColumn) table.AddColumn("noise");
        var list = trials.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var t = list[i];
            var c = s.Source(t).Cost!;
            var q = s.Source(t).Quality!;
            var cells = new List<string>
            {
                t.Id.ToString(CultureInfo.InvariantCulture), t.Hash[..12], $"{s.Reward(t):0.0000}", QualityText(q, s.Spec.Seeds), $"{c.LatencyMs:0.000}",
                $"{c.EnergyMj:0.000}", Format.Count(c.Params), Format.Count(c.Macs),
            };
            if (noiseColumn)
                cells.Add(i + 1 < list.Count && !QualityInfo.Distinguishable(q, s.Source(list[i + 1]).Quality!) ? $"within {list[i + 1].Id}'s" : "");
            table.AddRow(cells.ToArray());
        }
        return table;
    }

    /// <summary>A quality as status prints it: the score, and with several seeds ± its standard error.</summary>
    public static string QualityText(QualityInfo q, int seeds) =>
        seeds > 1 ? $"{q.Score:0.0000} ± {q.StandardError:0.0000}" : $"{q.Score:0.0000}";
}
