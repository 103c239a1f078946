using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>One training: a trial's, or with several seeds per trial (<c>--proxy-seeds</c>) one of them.</summary>
public readonly record struct QualityWork(int Trial, int Unit = 0);

/// <summary>
/// Which work goes out, to whom, and what comes back in — the scheduling policy of one experiment, apart
/// from the actor that carries it out. <see cref="ExperimentState"/> says what the ledger needs (a trial
/// needs a cost, a quality, how many attempts it had); this says what is out there now: the evaluation in
/// flight per trial, the training in flight per trial and the agent it is on, the agents and their slots,
/// the queue of trainings waiting for a slot, and the results being persisted. The rules:
/// <list type="bullet">
/// <item>one attempt of each kind of work per trial is out at a time — of each of a trial's trainings when it has several
/// (<see cref="QualityWork"/>), which go to any free slots independently; a result being persisted is not asked for again;</item>
/// <item>a training goes to the agent with the most free slots (ties: the lowest id); an agent that refuses
/// work counts as full until it next answers or registers, and the refused work goes to the front of the queue;</item>
/// <item>an agent that leaves (death watch) has its trainings put back at the front of the queue at once;</item>
/// <item>an attempt ends by its result, its failure, its refusal or its deadline — only the current attempt:
/// an answer to an older one ends nothing;</item>
/// <item>an attempt's deadline doubles with each retry.</item>
/// </list>
/// Single-owner and deterministic: the experiment actor owns the one instance, passes in the state and the
/// time, and does the I/O (persisting the dispatches it returns, sending, timers). Nothing here touches actors.
/// </summary>
public sealed class TrialScheduler
{
    private sealed class Agent(int slots)
    {
        public int Slots { get; set; } = slots;
        public HashSet<QualityWork> InFlight { get; } = [];
        public bool Saturated { get; set; }
        public int Free => Saturated ? 0 : Math.Max(0, Slots - InFlight.Count);
    }

    private readonly Dictionary<int, int> _costInFlight = [];
    private readonly Dictionary<QualityWork, (int Attempt, string Agent)> _qualityInFlight = [];
    private readonly HashSet<int> _persistingCost = [];
    private readonly HashSet<QualityWork> _persistingQuality = [];
    private readonly LinkedList<QualityWork> _queue = [];
    private readonly HashSet<QualityWork> _queued = [];
    private readonly SortedDictionary<string, Agent> _agents = new(StringComparer.Ordinal);

    /// <summary>The deadline of an attempt: ×1, ×2, ×4, … the base (capped at ×64). A node that crashed is
    /// usually downed and its shards moved within seconds to tens of seconds; work re-issued into that gap
    /// must not use up a trial's attempts.</summary>
    public static TimeSpan Timeout(int baseMs, int attempt) => TimeSpan.FromMilliseconds(baseMs * Math.Pow(2, Math.Clamp(attempt - 1, 0, 6)));

    /// <summary>The trials waiting for a trainer, in the order they will be assigned (a trial once per training it waits for).</summary>
    public IReadOnlyList<int> Queue => _queue.Select(w => w.Trial).ToList();

    /// <summary>The trainings waiting for a trainer, in the order they will be assigned.</summary>
    public IReadOnlyList<QualityWork> QueuedWork => _queue.ToList();

    /// <summary>Trainings out: their attempt and agent.</summary>
    public IReadOnlyDictionary<QualityWork, (int Attempt, string Agent)> TrainingsInFlight => _qualityInFlight;

    /// <summary>The agents' free slots (0 for one that refused work until it answers again).</summary>
    public IReadOnlyDictionary<string, int> FreeSlots => _agents.ToDictionary(a => a.Key, a => a.Value.Free, StringComparer.Ordinal);

    // ----- Dispatch -----

    /// <summary>
    /// Every trial that needs a cost and has no evaluation out gets one: the dispatches to persist and then
    /// send. Trainings that are needed and not out join the end of the queue.
    /// </summary>
    public IReadOnlyList<DispatchAttempted> DispatchEvaluations(ExperimentState state, long nowUnixMs)
    {
        var dispatches = new List<DispatchAttempted>();
        foreach (var t in state.Outstanding(WorkKind.Cost))
        {
            if (_costInFlight.ContainsKey(t.Id) || _persistingCost.Contains(t.Id)) continue;
            var d = state.Dispatch(t.Id, WorkKind.Cost, "evaluator", nowUnixMs);
            _costInFlight[t.Id] = d.Attempt;
            dispatches.Add(d);
        }
        foreach (var t in state.Outstanding(WorkKind.Quality))
            foreach (var unit in state.UnitsNeeded(t))
            {
                var work = new QualityWork(t.Id, unit);
                if (!_qualityInFlight.ContainsKey(work) && !_persistingQuality.Contains(work)) Enqueue(work, front: false);
            }
        return dispatches;
    }

    /// <summary>Trainings from the front of the queue to agents with free slots: the dispatches to persist and then send.</summary>
    public IReadOnlyList<DispatchAttempted> AssignTrainings(ExperimentState state, long nowUnixMs)
    {
        var dispatches = new List<DispatchAttempted>();
        while (_queue.Count > 0)
        {
            string? agentId = null;
            Agent? agent = null;
            foreach (var (id, a) in _agents)
                if (a.Free > 0 && (agent is null || a.Free > agent.Free)) (agentId, agent) = (id, a);
            if (agent is null) break;
            var work = _queue.First!.Value;
            _queue.RemoveFirst();
            _queued.Remove(work);
            if (!state.NeedsUnit(state.Trials[work.Trial], work.Unit) || _qualityInFlight.ContainsKey(work) || _persistingQuality.Contains(work)) continue;
            var d = state.Dispatch(work.Trial, WorkKind.Quality, agentId!, nowUnixMs, work.Unit);
            _qualityInFlight[work] = (d.Attempt, agentId!);
            agent.InFlight.Add(work);
            dispatches.Add(d);
        }
        return dispatches;
    }

    /// <summary>Whether a dispatch, now persisted, is still to be sent: its attempt is the one out (and its agent is still here).</summary>
    public bool IsCurrent(DispatchAttempted d) => d.Work == WorkKind.Cost
        ? _costInFlight.TryGetValue(d.TrialId, out var a) && a == d.Attempt
        : _qualityInFlight.TryGetValue(new QualityWork(d.TrialId, d.Unit), out var q) && q == (d.Attempt, d.Worker) && _agents.ContainsKey(d.Worker);

    // ----- Agents -----

    /// <summary>
    /// An agent announced itself with this many slots. The same incarnation again (a periodic registration)
    /// updates its slots and lifts a refusal; a new incarnation under the same id starts with nothing out.
    /// </summary>
    public void AgentAvailable(string agentId, int slots, bool sameIncarnation)
    {
        if (sameIncarnation && _agents.TryGetValue(agentId, out var known))
        {
            known.Slots = slots;
            known.Saturated = false;
        }
        else _agents[agentId] = new Agent(slots);
    }

    /// <summary>
    /// The agent is gone (death watch): its trainings go back to the front of the queue. Returns them with the
    /// attempt each was on (null: the attempt out for that training is elsewhere by now).
    /// </summary>
    public IReadOnlyList<(QualityWork Work, int? Attempt)> AgentLeft(string agentId)
    {
        if (!_agents.Remove(agentId, out var agent)) return [];
        var works = agent.InFlight.OrderBy(w => w.Trial).ThenBy(w => w.Unit).ToList();
        var left = new List<(QualityWork, int?)>();
        foreach (var work in works)
        {
            int? attempt = null;
            if (_qualityInFlight.TryGetValue(work, out var q) && q.Agent == agentId)
            {
                _qualityInFlight.Remove(work);
                attempt = q.Attempt;
            }
            left.Add((work, attempt));
        }
        foreach (var work in Enumerable.Reverse(works)) Enqueue(work, front: true);
        return left;
    }

    /// <summary>The evaluations out: trial → attempt (re-sent, same attempt, when an evaluator node leaves).</summary>
    public IReadOnlyDictionary<int, int> EvaluationsInFlight => _costInFlight;

    // ----- Ending attempts -----

    /// <summary>
    /// Ends the attempt out for the trial (for a training: its unit <paramref name="unit"/>) if it is
    /// <paramref name="attempt"/> (a failure answer or a missed deadline): false when another attempt is out, or
    /// none. A training's slot is freed.
    /// </summary>
    public bool EndAttempt(WorkKind work, int trial, int attempt, int unit = 0)
    {
        if (work == WorkKind.Cost)
        {
            if (!_costInFlight.TryGetValue(trial, out var current) || current != attempt) return false;
            _costInFlight.Remove(trial);
            return true;
        }
        var key = new QualityWork(trial, unit);
        if (!_qualityInFlight.TryGetValue(key, out var q) || q.Attempt != attempt) return false;
        _qualityInFlight.Remove(key);
        if (_agents.TryGetValue(q.Agent, out var agent)) agent.InFlight.Remove(key);
        return true;
    }

    /// <summary>An agent had no free slot after all: if that attempt is the one out, it ends, the agent counts
    /// as full until it answers again, and the training goes to the front of the queue.</summary>
    public bool Refused(int trial, int attempt, int unit = 0)
    {
        var key = new QualityWork(trial, unit);
        var agentId = _qualityInFlight.TryGetValue(key, out var q) ? q.Agent : null;
        if (!EndAttempt(WorkKind.Quality, trial, attempt, unit)) return false;
        if (agentId is not null && _agents.TryGetValue(agentId, out var agent)) agent.Saturated = true;
        Enqueue(key, front: true);
        return true;
    }

    /// <summary>An agent answered a training (any attempt): its slot is free and it is no longer full. True when
    /// this ended the training out (its deadline is to be cancelled).</summary>
    public bool TrainingAnswered(int trial, string agentId, int unit = 0)
    {
        var key = new QualityWork(trial, unit);
        if (_agents.TryGetValue(agentId, out var agent))
        {
            agent.InFlight.Remove(key);
            agent.Saturated = false;
        }
        if (!_qualityInFlight.TryGetValue(key, out var q) || q.Agent != agentId) return false;
        _qualityInFlight.Remove(key);
        return true;
    }

    // ----- Results being persisted -----

    /// <summary>A result for the work is being persisted: while it is, the work is neither asked for again nor a second result accepted.</summary>
    public bool BeginRecording(WorkKind work, int trial, int unit = 0) =>
        work == WorkKind.Cost ? _persistingCost.Add(trial) : _persistingQuality.Add(new QualityWork(trial, unit));

    public bool IsRecording(WorkKind work, int trial, int unit = 0) =>
        work == WorkKind.Cost ? _persistingCost.Contains(trial) : _persistingQuality.Contains(new QualityWork(trial, unit));

    /// <summary>The result is in the journal. True when an evaluation was out for the trial (its deadline is to be cancelled).</summary>
    public bool Recorded(WorkKind work, int trial, int unit = 0)
    {
        if (work == WorkKind.Quality)
        {
            _persistingQuality.Remove(new QualityWork(trial, unit));
            return false;
        }
        _persistingCost.Remove(trial);
        return _costInFlight.Remove(trial);
    }

    private void Enqueue(QualityWork work, bool front)
    {
        if (!_queued.Add(work)) return;
        if (front) _queue.AddFirst(work);
        else _queue.AddLast(work);
    }
}
