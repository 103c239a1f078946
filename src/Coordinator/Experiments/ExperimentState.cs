using System.Collections.Immutable;
using NasCluster.Coordinator.Pareto;
using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// What the trainer reported for a trial: one training, or — with several seeds per trial — their mean score
/// with its standard error and every seed's score (loss and speed averaged, wall time summed: the compute spent;
/// the weights and worker are the first seed's).
/// </summary>
public sealed record QualityInfo(double Score, double Loss, double WallSeconds, double StepsPerSecond, string Worker, string? WeightsPath, string? WeightsSha256)
{
    /// <summary>Standard error of <see cref="Score"/> over the seeds (0 with one seed: unknown, not zero noise).</summary>
    public double StandardError { get; init; }

    /// <summary>Every seed's score, in unit order (empty with a single training: its score is <see cref="Score"/>).</summary>
    public IReadOnlyList<double> Scores { get; init; } = [];

    /// <summary>The trial's quality from its units: the one training's, or once all are in, their mean; null while any is missing.</summary>
    public static QualityInfo? Combine(ImmutableArray<QualityInfo?> units)
    {
        if (units.Length == 1) return units[0];
        if (units.Any(u => u is null)) return null;
        var all = units.Select(u => u!).ToList();
        var scores = all.Select(u => u.Score).ToList();
        var mean = scores.Average();
        var variance = scores.Sum(x => (x - mean) * (x - mean)) / (scores.Count - 1);
        return new QualityInfo(mean, all.Average(u => u.Loss), all.Sum(u => u.WallSeconds), all.Average(u => u.StepsPerSecond), all[0].Worker,
            all[0].WeightsPath, all[0].WeightsSha256)
        {
            StandardError = Math.Sqrt(variance / scores.Count),
            Scores = scores,
        };
    }

    /// <summary>
    /// Whether two qualities are told apart by their noise: their difference exceeds twice its standard error
    /// (about 95% confidence). With one seed each there is no estimate of the noise, and they count as distinct.
    /// </summary>
    public static bool Distinguishable(QualityInfo a, QualityInfo b) =>
        Math.Abs(a.Score - b.Score) > 2 * Math.Sqrt(a.StandardError * a.StandardError + b.StandardError * b.StandardError);
}

/// <summary>Counts over the ledger.</summary>
public sealed record ExperimentTally(int Completed, int Failed, int InFlight, int Reused, TrialState? BestTrial, double? BestReward);

/// <summary>
/// One trial of the ledger. Its quality comes from one or more trainings (<c>--proxy-seeds</c>), its units: each
/// unit's result and attempt count are kept apart; <see cref="Quality"/> is theirs combined once all are in.
/// </summary>
public sealed record TrialState(
    int Id,
    int[] Vector,
    string Hash,
    int? ReusedFrom,
    CostSummary? Cost,
    string? CostNode,
    ImmutableArray<QualityInfo?> Units,
    string? Failure,
    int CostAttempts,
    ImmutableArray<int> UnitAttempts,
    bool Observed)
{
    /// <summary>The trial's quality: its one training's, or its trainings' mean (with the standard error) once all are in.</summary>
    public QualityInfo? Quality => QualityInfo.Combine(Units);

    /// <summary>Attempts of quality work over all the trial's trainings.</summary>
    public int QualityAttempts => UnitAttempts.Sum();
}

/// <summary>
/// An experiment's ledger as an immutable value: <see cref="Apply"/> folds persisted events in, and the
/// decision functions say which events a command or result produces — nothing else changes it. The
/// rules: a trial exists only once its proposal is persisted; a result counts only for work the trial
/// still needs (late and duplicate results produce no event); a trial proposed again (same architecture
/// hash) reuses the earlier trial's result; a trial whose work fails <c>MaxAttempts</c> times is failed
/// with the reason. In synchronous batch mode the controller observes a batch only when all its trials
/// are done and proposes the next only after that, and in pipelined mode it observes batches in trial
/// order (see <see cref="NextPipelined"/>), so a seeded experiment follows one trajectory however the work
/// is spread, fails, or resumes.
/// </summary>
public sealed record ExperimentState(
    ExperimentSpec Spec,
    string ControllerState,
    ImmutableList<TrialState> Trials,
    ImmutableDictionary<string, int> FirstByHash,
    ImmutableSortedSet<int> Unobserved,
    bool Finished,
    long CreatedUnixMs,
    long FinishedUnixMs)
{
    public static ExperimentState Created(ExperimentCreated e) =>
        new(e.Spec, e.ControllerState, [], ImmutableDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal), [], false, e.AtUnixMs, 0);

    /// <summary>Folds one persisted event into the state.</summary>
    public ExperimentState Apply(Shared.Protocol.IExperimentEvent e) => e switch
    {
        TrialsProposed p => this with
        {
            ControllerState = p.ControllerState,
            Trials = Trials.AddRange(p.Vectors.Select((v, i) => new TrialState(p.FirstTrialId + i, v, p.Hashes[i], null, null, null,
                ImmutableArray.CreateRange(Enumerable.Repeat<QualityInfo?>(null, Spec.Seeds)), null, 0, ImmutableArray.CreateRange(new int[Spec.Seeds]), false))),
            FirstByHash = p.Hashes.Select((h, i) => (h, p.FirstTrialId + i)).Aggregate(FirstByHash, (d, x) => d.ContainsKey(x.h) ? d : d.Add(x.h, x.Item2)),
            Unobserved = Unobserved.Union(Enumerable.Range(p.FirstTrialId, p.Vectors.Count)),
        },
        TrialReused r => Update(r.TrialId, t => t with { ReusedFrom = r.SourceTrialId }),
        DispatchAttempted d => Update(d.TrialId, t => d.Work == WorkKind.Cost
            ? t with { CostAttempts = Math.Max(t.CostAttempts, d.Attempt) }
            : t with { UnitAttempts = t.UnitAttempts.SetItem(d.Unit, Math.Max(t.UnitAttempts[d.Unit], d.Attempt)) }),
        CostRecorded c => Update(c.TrialId, t => t with { Cost = c.Cost, CostNode = c.Node }),
        QualityRecorded q => Update(q.TrialId, t => t with
        {
            Units = t.Units.SetItem(q.Unit, new QualityInfo(q.Score, q.Loss, q.WallSeconds, q.StepsPerSecond, q.Worker, q.WeightsPath, q.WeightsSha256)),
        }),
        TrialFailed f => Update(f.TrialId, t => t with { Failure = f.Reason }),
        // A preempted attempt gives its number back (only the latest attempt's: an older one's is already superseded).
        AttemptPreempted p => Update(p.TrialId, t => p.Work == WorkKind.Cost
            ? t.CostAttempts == p.Attempt ? t with { CostAttempts = p.Attempt - 1 } : t
            : t.UnitAttempts[p.Unit] == p.Attempt ? t with { UnitAttempts = t.UnitAttempts.SetItem(p.Unit, p.Attempt - 1) } : t),
        ControllerUpdated u => u.TrialIds.Aggregate(this with { ControllerState = u.ControllerState, Unobserved = Unobserved.Except(u.TrialIds) },
            (s, id) => s.Update(id, t => t with { Observed = true })),
        ExperimentFinished f => this with { Finished = true, FinishedUnixMs = f.AtUnixMs },
        ExperimentCreated => throw new InvalidOperationException("an experiment is created once"),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "not an experiment event"),
    };

    private ExperimentState Update(int id, Func<TrialState, TrialState> change) => this with { Trials = Trials.SetItem(id, change(Trials[id])) };

    // ----- Derived views -----

    private RewardFunction? _reward; // derived from Spec, which `with` never changes: copying the cache is correct

    public RewardFunction RewardFunction => _reward ??= RewardOf(Spec.Reward);

    public static RewardFunction RewardOf(RewardSpec r) =>
        RewardFunction.Parse(r.Objective, r.LatencyTargetMs, r.EnergyTargetMj, r.ParamsTarget, r.W, r.Beta) with { InfeasibleReward = r.InfeasibleReward };

    /// <summary>The trial whose measurements a trial uses (itself, or the one it reuses).</summary>
    public TrialState Source(TrialState t) => t.ReusedFrom is { } s ? Trials[s] : t;

    public bool IsDone(TrialState t)
    {
        if (t.Failure is not null) return true;
        var s = Source(t);
        return s.Failure is not null || (s.Cost is not null && s.Quality is not null);
    }

    public bool IsFailed(TrialState t) => t.Failure is not null || Source(t).Failure is not null;

    public string? FailureOf(TrialState t) => t.Failure ?? Source(t).Failure;

    /// <summary>The trial's measurement, or null if it failed or is not done.</summary>
    public TrialMeasurement? Measurement(TrialState t)
    {
        if (!IsDone(t) || IsFailed(t)) return null;
        var s = Source(t);
        return new TrialMeasurement(s.Quality!.Score, s.Cost!.LatencyMs, s.Cost.EnergyMj, s.Cost.Params);
    }

    public double? Reward(TrialState t) =>
        !IsDone(t) ? null : Measurement(t) is { } m ? RewardFunction.Reward(m) : Spec.Reward.InfeasibleReward;

    /// <summary>Work a trial still needs from a worker (reused trials need none: they wait for their source).</summary>
    public bool Needs(TrialState t, WorkKind work) =>
        t.Failure is null && t.ReusedFrom is null && (work == WorkKind.Cost ? t.Cost is null : t.Units.Any(u => u is null));

    /// <summary>Whether the trial still needs training <paramref name="unit"/>.</summary>
    public bool NeedsUnit(TrialState t, int unit) =>
        t.Failure is null && t.ReusedFrom is null && unit >= 0 && unit < t.Units.Length && t.Units[unit] is null;

    /// <summary>The trainings a trial still needs, in unit order.</summary>
    public IEnumerable<int> UnitsNeeded(TrialState t) => Enumerable.Range(0, t.Units.Length).Where(u => NeedsUnit(t, u));

    /// <summary>Attempts made of a trial's cost, or of one of its trainings.</summary>
    public int Attempts(TrialState t, WorkKind work, int unit = 0) => work == WorkKind.Cost ? t.CostAttempts : t.UnitAttempts[unit];

    public int Completed => Tally().Completed;

    public int Failed => Tally().Failed;

    public int InFlight => Tally().InFlight;

    /// <summary>The counts and the best trial in one pass over the ledger.</summary>
    public ExperimentTally Tally()
    {
        int completed = 0, failed = 0, inFlight = 0, reused = 0;
        TrialState? best = null;
        var bestReward = double.NegativeInfinity;
        foreach (var t in Trials)
        {
            if (t.ReusedFrom is not null) reused++;
            if (!IsDone(t)) inFlight++;
            else if (IsFailed(t)) failed++;
            else
            {
                completed++;
                var r = Reward(t)!.Value;
                if (r > bestReward) (best, bestReward) = (t, r);
            }
        }
        return new ExperimentTally(completed, failed, inFlight, reused, best, best is null ? null : bestReward);
    }

    public IEnumerable<TrialState> Outstanding(WorkKind work) => Trials.Where(t => Needs(t, work));

    /// <summary>What watchers are told: the counts, the best reward and the size of the latency front (zeros before creation).</summary>
    public static ExperimentProgress Progress(string name, ExperimentState? s)
    {
        if (s is null) return new ExperimentProgress(name, 0, 0, 0, 0, 0, null, 0, 0);
        var tally = s.Tally();
        return new ExperimentProgress(name, s.Trials.Count, tally.Completed, tally.Failed, tally.InFlight, tally.Reused, tally.BestReward,
            s.Front(CostMetric.LatencyMs).Count, s.Spec.Trials);
    }

    /// <summary>The best completed trial (the earliest among equals).</summary>
    public (TrialState Trial, double Reward)? Best => Tally() is { BestTrial: { } t, BestReward: { } r } ? (t, r) : null;

    /// <summary>The trial ids on the front of quality against <paramref name="metric"/>, cheapest first.</summary>
    public IReadOnlyList<int> FrontIds(CostMetric metric) =>
        Front(metric).Points.OrderBy(p => p.Cost).Select(p => int.Parse(p.Id, System.Globalization.CultureInfo.InvariantCulture)).ToList();

    public ParetoFront Front(CostMetric metric)
    {
        var f = new ParetoFront();
        foreach (var t in Trials)
            if (t.ReusedFrom is null && Measurement(t) is { } m)
                f.Add(new ParetoPoint(t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Cost(metric), m.Quality));
        return f;
    }

    // ----- Decisions -----

    /// <summary>
    /// What the experiment does next when nothing is waiting on a result: let the controller observe what
    /// finished, propose more trials (marking repeats as reused), or finish. Empty when it must wait.
    /// <paramref name="build"/> builds a candidate's network (the actor passes one that keeps them for dispatch).
    /// </summary>
    public IReadOnlyList<Shared.Protocol.IExperimentEvent> Next(Space space, long nowUnixMs, Func<Candidate, Shared.Architecture.Network>? build = null)
    {
        build ??= space.Build;
        if (Finished) return [];
        if (Spec.Mode == SearchMode.Pipelined) return NextPipelined(space, nowUnixMs, build);
        var unobserved = Unobserved.Select(id => Trials[id]).ToList();
        var done = unobserved.Where(IsDone).ToList();
        if (!Spec.Asynchronous && done.Count < unobserved.Count) return []; // the batch is still running
        if (done.Count > 0) return [Observe(space, done)];
        var room = Spec.Trials - Trials.Count;
        if (room > 0)
        {
            var count = Spec.Asynchronous ? Math.Min(room, Spec.BatchSize - unobserved.Count) : Math.Min(room, Spec.BatchSize);
            return count <= 0 ? [] : Propose(space, count, build);
        }
        return unobserved.Count == 0 ? [new ExperimentFinished(nowUnixMs)] : [];
    }

    /// <summary>
    /// Pipelined mode. Trials are observed in order, a batch at a time — batch g is trials [gB, gB + B) — and
    /// the window is kept full: once batch g is observed, trials up to (g + 1)B + W − 1 are proposed. Refilling
    /// comes before observing, so the controller sees one fixed sequence of calls (propose W, observe batch 0,
    /// propose B, observe batch 1, …) whatever order results arrive in: the trajectory depends on the seed, the
    /// batch and the window only. Trials of later batches run while a batch's last trial finishes, so slots
    /// stay busy; the price is that a batch is proposed from a policy one batch older than in synchronous mode.
    /// </summary>
    private List<Shared.Protocol.IExperimentEvent> NextPipelined(Space space, long nowUnixMs, Func<Candidate, Shared.Architecture.Network> build)
    {
        var observed = Trials.Count - Unobserved.Count; // always a prefix: batches are observed in order
        var target = Math.Min(Spec.Trials, observed + Spec.PipelineWindow);
        if (Trials.Count < target) return Propose(space, target - Trials.Count, build);
        if (Unobserved.Count == 0) return Trials.Count >= Spec.Trials ? [new ExperimentFinished(nowUnixMs)] : [];
        var batch = Enumerable.Range(observed, Math.Min(Spec.BatchSize, Spec.Trials - observed)).Select(id => Trials[id]).ToList();
        return batch.All(IsDone) ? [Observe(space, batch)] : [];
    }

    private ControllerUpdated Observe(Space space, IReadOnlyList<TrialState> done)
    {
        var controller = Controllers.Restore(space, Spec.Controller, ControllerState);
        var rewards = done.Select(t => Reward(t)!.Value).ToList();
        controller.Observe(done.Select((t, i) => new Observation(space.FromVector(t.Vector), rewards[i])).ToList());
        return new ControllerUpdated(done.Select(t => t.Id).ToList(), rewards, controller.ExportState());
    }

    private List<Shared.Protocol.IExperimentEvent> Propose(Space space, int count, Func<Candidate, Shared.Architecture.Network> build)
    {
        var controller = Controllers.Restore(space, Spec.Controller, ControllerState);
        var candidates = controller.Propose(count);
        var hashes = candidates.Select(c => build(c).Hash).ToList();
        var events = new List<Shared.Protocol.IExperimentEvent>
        {
            new TrialsProposed(Trials.Count, candidates.Select(c => c.Vector.ToArray()).ToList(), hashes, controller.ExportState()),
        };
        var seen = FirstByHash;
        for (var i = 0; i < hashes.Count; i++)
        {
            var id = Trials.Count + i;
            if (seen.TryGetValue(hashes[i], out var source)) events.Add(new TrialReused(id, source));
            else seen = seen.Add(hashes[i], id);
        }
        return events;
    }

    /// <summary>A cost arrived: recorded if the trial still needs one, otherwise (late or duplicate) nothing.</summary>
    public CostRecorded? OnCost(int trialId, CostSummary cost, string node) =>
        trialId >= 0 && trialId < Trials.Count && Needs(Trials[trialId], WorkKind.Cost) ? new CostRecorded(trialId, cost, node) : null;

    /// <summary>A training's result arrived: recorded if the trial still needs that training, otherwise (late or duplicate) nothing.</summary>
    public QualityRecorded? OnQuality(int trialId, double score, double loss, double wall, double stepsPerSecond, string worker, string? weights, string? sha,
        int unit = 0) =>
        trialId >= 0 && trialId < Trials.Count && NeedsUnit(Trials[trialId], unit)
            ? new QualityRecorded(trialId, score, loss, wall, stepsPerSecond, worker, weights, sha, unit)
            : null;

    /// <summary>
    /// An attempt of <paramref name="work"/> failed (an error answer or a missed deadline): the trial fails
    /// once <c>MaxAttempts</c> attempts have been made — or at once when the failure is
    /// <paramref name="permanent"/> (an architecture the evaluator cannot price) — otherwise the work goes
    /// out again (null: nothing to record).
    /// </summary>
    public TrialFailed? OnAttemptFailed(int trialId, WorkKind work, int attempt, string reason, bool permanent = false, int unit = 0)
    {
        if (trialId < 0 || trialId >= Trials.Count) return null;
        var t = Trials[trialId];
        var needed = work == WorkKind.Cost ? Needs(t, work) : NeedsUnit(t, unit);
        if (!needed || attempt < Attempts(t, work, unit)) return null; // stale: a newer attempt is out
        var what = work == WorkKind.Quality && t.Units.Length > 1 ? $"{Kinds.Name(work)} (seed {unit + 1} of {t.Units.Length})" : Kinds.Name(work);
        if (permanent) return new TrialFailed(trialId, $"{what}: {reason}");
        return Attempts(t, work, unit) >= Spec.MaxAttempts
            ? new TrialFailed(trialId, $"{what} failed {Attempts(t, work, unit)} times; last: {reason}")
            : null;
    }

    /// <summary>
    /// The attempt out on a node that left the cluster ended without an answer: recorded as preempted (null:
    /// nothing to record — the trial no longer needs the work, or a newer attempt is out). Its number is given
    /// back, so the next dispatch reuses it and <c>MaxAttempts</c> counts failures only.
    /// </summary>
    public AttemptPreempted? OnPreempted(int trialId, WorkKind work, int attempt, string worker, string reason, int unit = 0)
    {
        if (trialId < 0 || trialId >= Trials.Count) return null;
        var t = Trials[trialId];
        var needed = work == WorkKind.Cost ? Needs(t, work) : NeedsUnit(t, unit);
        return needed && attempt == Attempts(t, work, unit) ? new AttemptPreempted(trialId, work, attempt, worker, reason, unit) : null;
    }

    /// <summary>The next dispatch of <paramref name="work"/> for a trial, or of its training <paramref name="unit"/> (attempt numbers count from 1).</summary>
    public DispatchAttempted Dispatch(int trialId, WorkKind work, string worker, long nowUnixMs, int unit = 0) =>
        new(trialId, work, Attempts(Trials[trialId], work, unit) + 1, worker, nowUnixMs, unit);
}
