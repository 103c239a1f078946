using Akka.Actor;
using Akka.Event;
using NasCluster.Shared.Protocol;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>The work of an experiment: driving the search, sending evaluations and trainings, taking their results.</summary>
public sealed partial class ExperimentActor
{
    /// <summary>An attempt's deadline timer (for a training: of which of the trial's trainings).</summary>
    private sealed record Deadline(int TrialId, WorkKind Work, int Attempt, int Unit = 0);

    /// <summary>Re-send the evaluations out (periodically, and after an evaluator node left).</summary>
    private sealed record ResendTick;

    /// <summary>
    /// How often every evaluation still out is sent again under its own attempt. A message can be lost on its
    /// way through sharding — its shard moving to a new node, handed off mid-evaluation, homed on a node
    /// just removed — and pricing is deterministic and cached by the entity, so at-least-once delivery with
    /// the ledger's de-duplication costs one message per evaluation out and bounds such a loss to seconds
    /// instead of the attempt's deadline.
    /// </summary>
    private static readonly TimeSpan ResendInterval = TimeSpan.FromSeconds(1);

    private int _driving;

    private void Drive()
    {
        if (!_active || _driving > 0 || _state is null || _space is null) return;
        var space = _space;
        var events = _state.Next(space, Now(), c => _architectures.BuildAndKeep(space, c));
        if (events.Count == 0) return;
        _driving = events.Count;
        // Asynchronous on purpose: Drive runs inside the handlers of other asynchronous persists, and a
        // stashing Persist nested in a PersistAsync handler leaves Akka.NET's stashing counter unbalanced,
        // so the actor would stash every later command for ever. _driving keeps one decision in flight.
        PersistAllAsync(events, e =>
        {
            _state = _state!.Apply(e);
            if (--_driving > 0) return;
            AfterPersist();
            if (_state.Finished)
            {
                _active = false;
                AnnounceDone();
                return;
            }
            DispatchOutstanding();
            _architectures.ForgetBuilt();
            Notify();
            Drive();
        });
    }

    private void DispatchOutstanding()
    {
        if (!_active || _state is null || _space is null) return;
        var dispatches = _scheduler.DispatchEvaluations(_state, Now());
        foreach (var d in dispatches) _architectures.Of(_space, _state.Trials[d.TrialId]); // written now, while the proposal's network is at hand
        if (dispatches.Count > 0) PersistAllAsync(dispatches, Send);
        AssignTrainings();
    }

    private void AssignTrainings()
    {
        if (!_active || _state is null || _space is null) return;
        var dispatches = _scheduler.AssignTrainings(_state, Now());
        if (dispatches.Count > 0) PersistAllAsync(dispatches, Send);
    }

    /// <summary>A dispatch is in the journal: send it, unless it is no longer current (its agent left meanwhile: death watch re-queued it).</summary>
    private void Send(DispatchAttempted d)
    {
        _state = _state!.Apply(d);
        AfterPersist();
        if (!_scheduler.IsCurrent(d)) return;
        var spec = _state.Spec;
        var trial = _state.Trials[d.TrialId];
        var architecture = _architectures.Of(_space!, trial);
        var timeout = TrialScheduler.Timeout(d.Work == WorkKind.Cost ? spec.EvaluationTimeoutMs : spec.TrainingTimeoutMs, d.Attempt);
        if (d.Work == WorkKind.Cost) SendEvaluation(d.TrialId, d.Attempt);
        else
            _agents[d.Worker].Tell(new WorkAssignment(_name, d.TrialId, d.Attempt, architecture, spec.QualityMode, spec.ProxySteps,
                spec.TrainingSeed(d.TrialId, d.Unit), DateTimeOffset.UtcNow.Add(timeout).ToUnixTimeMilliseconds(), d.Unit, spec.Training));
        Timers.StartSingleTimer(TimerKey(d.TrialId, d.Work, d.Unit), new Deadline(d.TrialId, d.Work, d.Attempt, d.Unit), timeout);
    }

    private void AgentAvailable(string agentId, int slots, IActorRef agent)
    {
        var same = _agents.TryGetValue(agentId, out var known) && known.Equals(agent);
        if (!same)
        {
            _agents[agentId] = agent;
            Context.Watch(agent);
        }
        _scheduler.AgentAvailable(agentId, slots, same);
        AssignTrainings();
    }

    private readonly Dictionary<int, long> _evaluationSentAt = [];

    private void SendEvaluation(int trialId, int attempt)
    {
        _evaluationSentAt[trialId] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var spec = _state!.Spec;
        var trial = _state.Trials[trialId];
        _evaluators.Tell(new Evaluate(EntityIdOf(spec.HardwareFingerprint, trial.Hash, spec.Fidelity), spec.Hardware, spec.HardwareJson,
            _architectures.Of(_space!, trial), spec.Fidelity, new AttemptId(_name, trialId, attempt)));
    }

    /// <summary>
    /// Death watch: the trainer agent is gone (its node was downed and removed, or left). Its trainings are
    /// preempted — recorded, not failures, their attempt numbers given back — and go out again at once.
    /// </summary>
    private void OnTerminated(IActorRef gone)
    {
        _watchers.Remove(gone);
        foreach (var id in _agents.Where(a => a.Value.Equals(gone)).Select(a => a.Key).ToList())
        {
            _agents.Remove(id);
            var left = _scheduler.AgentLeft(id);
            foreach (var (work, _) in left) Timers.Cancel(TimerKey(work.Trial, WorkKind.Quality, work.Unit));
            var preempted = _state is null ? [] : left.Where(l => l.Attempt is not null)
                .Select(l => _state.OnPreempted(l.Work.Trial, WorkKind.Quality, l.Attempt!.Value, id, "its trainer left the cluster", l.Work.Unit))
                .OfType<AttemptPreempted>().ToList();
            // Applied now, before anything can re-dispatch these trials (the re-dispatch reuses the numbers);
            // journaled in this order, ahead of those dispatches.
            foreach (var p in preempted) _state = _state!.Apply(p);
            if (preempted.Count > 0) PersistAllAsync(preempted, _ => AfterPersist());
            _log.Warning("experiment {0}: trainer {1} left; {2} trainings re-issued, {3} of them preempted", _name, id, left.Count, preempted.Count);
        }
        AssignTrainings();
    }

    /// <summary>
    /// An evaluator node left the cluster. Which evaluations were on it is not known here (sharding decides),
    /// and pricing is deterministic, so every evaluation out is sent again under its own attempt — no new
    /// attempt, nothing to record; the first answer counts, later ones are dropped — at once and a second
    /// later, while the node's shards move to the survivors (and then by the periodic resend), instead of
    /// waiting for the deadlines.
    /// </summary>
    private void OnMemberRemoved(Akka.Cluster.Member member)
    {
        if (!member.HasRole("evaluator") || !_active || _scheduler.EvaluationsInFlight.Count == 0) return;
        _log.Warning("experiment {0}: evaluator node {1} left; re-sending {2} evaluations", _name, member.Address, _scheduler.EvaluationsInFlight.Count);
        _evaluationSentAt.Clear(); // all of them are due
        ResendEvaluations();
        Timers.StartSingleTimer("resend-1", new ResendTick(), TimeSpan.FromSeconds(1));
    }

    /// <summary>Every evaluation out that was sent at least a resend interval ago goes again, same attempt.</summary>
    private void ResendEvaluations()
    {
        if (!_active || _state is null || _space is null) return;
        var due = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)ResendInterval.TotalMilliseconds;
        foreach (var (trial, attempt) in _scheduler.EvaluationsInFlight.ToList())
            if (_evaluationSentAt.GetValueOrDefault(trial) <= due) SendEvaluation(trial, attempt);
    }

    // ----- Results -----

    private void OnEvaluation(EvaluationResult r)
    {
        if (_state is null || r.Attempt.Experiment != _name) return;
        var (trial, attempt) = (r.Attempt.TrialId, r.Attempt.Attempt);
        if (r.SimulatorVersion != _state.Spec.SimulatorVersion)
        {
            if (!EndAttempt(WorkKind.Cost, trial, attempt)) return;
            var reason = $"evaluator {r.Node} runs simulator {r.SimulatorVersion}, the experiment uses {_state.Spec.SimulatorVersion}";
            _log.Warning("experiment {0}: {1}; its result is not accepted", _name, reason);
            AttemptFailed(trial, WorkKind.Cost, attempt, reason);
            return;
        }
        if (_scheduler.IsRecording(WorkKind.Cost, trial) || _state.OnCost(trial, r.Cost, r.Node) is not { } recorded) return; // late or duplicate: dropped
        _scheduler.BeginRecording(WorkKind.Cost, trial);
        PersistAsync(recorded, e =>
        {
            _state = _state!.Apply(e);
            _evaluationSentAt.Remove(trial);
            if (_scheduler.Recorded(WorkKind.Cost, trial)) Timers.Cancel(TimerKey(trial, WorkKind.Cost));
            AfterResult(trial);
        });
    }

    private void OnEvaluationFailed(EvaluationFailed f)
    {
        if (f.Attempt.Experiment != _name || !EndAttempt(WorkKind.Cost, f.Attempt.TrialId, f.Attempt.Attempt)) return;
        AttemptFailed(f.Attempt.TrialId, WorkKind.Cost, f.Attempt.Attempt, f.Reason, permanent: true); // pricing is deterministic: no retry
    }

    private void OnWorkResult(WorkResult r)
    {
        var sender = Sender;
        var ack = new WorkAck(_name, r.TrialId, r.Attempt, r.Unit);
        if (_scheduler.TrainingAnswered(r.TrialId, r.AgentId, r.Unit)) Timers.Cancel(TimerKey(r.TrialId, WorkKind.Quality, r.Unit));
        if (_state is null || _scheduler.IsRecording(WorkKind.Quality, r.TrialId, r.Unit) || r.TrialId < 0 || r.TrialId >= _state.Trials.Count)
        {
            sender.Tell(ack);
            return;
        }
        var o = r.Outcome;
        var recorded = o.Succeeded
            ? _state.OnQuality(r.TrialId, o.Score, o.Loss, o.WallSeconds, o.StepsPerSecond, r.AgentId, o.WeightsPath, o.WeightsSha256, r.Unit)
            : null;
        if (recorded is null)
        {
            sender.Tell(ack); // a failure, or a late or duplicate result: acknowledged, and dropped
            if (!o.Succeeded && _state.NeedsUnit(_state.Trials[r.TrialId], r.Unit))
                AttemptFailed(r.TrialId, WorkKind.Quality, r.Attempt, o.FailureReason ?? "training failed", unit: r.Unit);
            else AssignTrainings();
            return;
        }
        _scheduler.BeginRecording(WorkKind.Quality, r.TrialId, r.Unit);
        PersistAsync(recorded, e =>
        {
            _state = _state!.Apply(e);
            _scheduler.Recorded(WorkKind.Quality, r.TrialId, r.Unit);
            sender.Tell(ack); // only now that the result is in the journal
            ReleaseWeights();
            AfterResult(r.TrialId);
        });
        AssignTrainings();
    }

    /// <summary>
    /// Asks the agents that kept weights of trials which left both Pareto fronts to delete them (their paths
    /// stay in the ledger). An agent not connected now is asked again after a later result if it returns.
    /// </summary>
    private void ReleaseWeights()
    {
        if (_state is null || _state.Spec.QualityMode != QualityMode.Proxy) return;
        foreach (var group in WeightsRetention.Unneeded(_state).Where(u => !_released.Contains(u.Path)).GroupBy(u => u.Worker))
        {
            if (!_agents.TryGetValue(group.Key, out var agent)) continue;
            var paths = group.Select(u => u.Path).ToList();
            agent.Tell(new ReleaseWeights(_name, paths));
            _released.UnionWith(paths);
        }
    }

    private void OnWorkRefused(WorkRefused r)
    {
        if (!_scheduler.Refused(r.TrialId, r.Attempt, r.Unit)) return;
        Timers.Cancel(TimerKey(r.TrialId, WorkKind.Quality, r.Unit));
        AssignTrainings();
    }

    private void OnDeadline(Deadline d)
    {
        if (!EndAttempt(d.Work, d.TrialId, d.Attempt, d.Unit)) return;
        _log.Warning("experiment {0}: trial {1} {2}{3} attempt {4} missed its deadline", _name, d.TrialId, Kinds.Name(d.Work),
            d.Unit > 0 ? $" (seed {d.Unit + 1})" : "", d.Attempt);
        AttemptFailed(d.TrialId, d.Work, d.Attempt, "deadline passed", unit: d.Unit);
    }

    private bool EndAttempt(WorkKind work, int trial, int attempt, int unit = 0)
    {
        if (!_scheduler.EndAttempt(work, trial, attempt, unit)) return false;
        Timers.Cancel(TimerKey(trial, work, unit));
        return true;
    }

    private void AttemptFailed(int trial, WorkKind work, int attempt, string reason, bool permanent = false, int unit = 0)
    {
        if (_state!.OnAttemptFailed(trial, work, attempt, reason, permanent, unit) is { } failed)
            PersistAsync(failed, e =>
            {
                _state = _state!.Apply(e);
                AfterResult(trial);
            });
        else DispatchOutstanding(); // another attempt
    }

    private void AfterResult(int trial)
    {
        if (_state!.IsDone(_state.Trials[trial])) _architectures.Forget(trial);
        AfterPersist();
        Notify();
        Drive();
        AssignTrainings();
    }

    private static string TimerKey(int trial, WorkKind work, int unit = 0) => $"{Kinds.Name(work)}-{trial}-{unit}";
}
