using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using NasCluster.Coordinator.Hosting;
using NasCluster.Coordinator.Rewards;
using NasCluster.Coordinator.Search;
using NasCluster.Shared.Architecture;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.Cluster;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// One experiment: a persistent actor (persistence id <c>experiment-NAME</c>) that is thin on purpose —
/// <see cref="ExperimentState"/> decides, this actor persists and dispatches. Evaluations go to the
/// sharded evaluators, proxy trainings to trainer agents within their free slots. Every dispatch is
/// persisted before it is sent; results are persisted (asynchronously, so the journal can batch) before
/// they are acknowledged; deadlines and death watch re-issue lost work; after recovery everything
/// outstanding is dispatched again. A failing journal write stops the actor; the registry starts a new
/// incarnation, which recovers from the journal.
/// </summary>
public sealed class ExperimentActor : ReceivePersistentActor, IWithTimers
{
    private sealed record Deadline(int TrialId, string Work, int Attempt);
    private sealed class ProgressTick
    {
        public static readonly ProgressTick Instance = new();
    }

    private const string ProgressTimer = "progress";
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(200);
    private sealed class Agent(IActorRef actor, int slots)
    {
        public IActorRef Actor { get; } = actor;
        public int Slots { get; set; } = slots;
        public HashSet<int> InFlight { get; } = [];
        public bool Saturated { get; set; }
        public int Free => Saturated ? 0 : Math.Max(0, Slots - InFlight.Count);
    }

    private readonly string _name;
    private readonly IActorRef _evaluators;
    private readonly DatabaseTarget _db;
    private ExperimentLock? _lock;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ExperimentState? _state;
    private Space? _space;
    private bool _active;
    private int _driving;
    private long _lastSnapshotSeq;
    private readonly Dictionary<int, int> _costInFlight = [];
    private readonly Dictionary<int, (int Attempt, string Agent)> _qualityInFlight = [];
    private readonly HashSet<int> _pendingCost = [];
    private readonly HashSet<int> _pendingQuality = [];
    private readonly LinkedList<int> _qualityQueue = [];
    private readonly HashSet<int> _queued = [];
    private readonly Dictionary<string, Agent> _agents = new(StringComparer.Ordinal);
    private readonly HashSet<IActorRef> _watchers = [];
    private readonly Dictionary<string, Network> _built = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _archJson = [];

    public ITimerScheduler Timers { get; set; } = null!;

    public override string PersistenceId { get; }

    internal ExperimentState? State => _state;

    public ExperimentActor(string name, IActorRef evaluators, DatabaseTarget db)
    {
        _name = name;
        _evaluators = evaluators;
        _db = db;
        PersistenceId = PersistenceIdOf(name);

        Recover<SnapshotOffer>(o =>
        {
            _state = ExperimentStateJson.Read(((ExperimentSnapshot)o.Snapshot).State);
            _lastSnapshotSeq = o.Metadata.SequenceNr;
        });
        Recover<ExperimentCreated>(e => _state = ExperimentState.Created(e));
        Recover<IExperimentEvent>(e => _state = _state!.Apply(e));

        Command<StartExperiment>(Start);
        Command<ResumeExperiment>(Resume);
        Command<WatchExperiment>(_ =>
        {
            _watchers.Add(Sender);
            Context.Watch(Sender);
            Sender.Tell(Progress());
            if (_state?.Finished == true) Sender.Tell(new ExperimentDone(_name, _state.Completed, _state.Failed));
        });
        Command<StopExperiment>(_ =>
        {
            _active = false;
            Context.Stop(Self);
        });
        Command<ProgressTick>(_ => SendProgress());
        Command<GetExperimentState>(_ =>
        {
            Sender.Tell(new ExperimentStateReply(_name, _state is null ? null : ExperimentStateJson.Write(_state), _active));
            if (_state is null && !_active) Context.Stop(Self); // asked about an experiment that does not exist
        });
        Command<TrainerAvailable>(t => AddAgent(t.AgentId, t.Slots, Sender));
        Command<EvaluationResult>(OnEvaluation);
        Command<EvaluationFailed>(f =>
        {
            if (Parse(f.CorrelationId) is not var (trial, attempt) || !EndCostAttempt(trial, attempt)) return;
            AttemptFailed(trial, Work.Cost, attempt, f.Reason, permanent: true); // pricing is deterministic: no retry
        });
        Command<WorkResult>(OnWorkResult);
        Command<WorkRefused>(r =>
        {
            if (!EndQualityAttempt(r.TrialId, r.Attempt, out var agent)) return;
            if (agent is not null) agent.Saturated = true;
            Enqueue(r.TrialId, front: true);
            AssignQuality();
        });
        Command<Deadline>(d =>
        {
            if (!(d.Work == Work.Cost ? EndCostAttempt(d.TrialId, d.Attempt) : EndQualityAttempt(d.TrialId, d.Attempt, out _))) return;
            _log.Warning("experiment {0}: trial {1} {2} attempt {3} missed its deadline", _name, d.TrialId, d.Work, d.Attempt);
            AttemptFailed(d.TrialId, d.Work, d.Attempt, "deadline passed");
        });
        Command<Terminated>(t =>
        {
            _watchers.Remove(t.ActorRef);
            var gone = _agents.Where(a => a.Value.Actor.Equals(t.ActorRef)).Select(a => a.Key).ToList();
            foreach (var id in gone)
            {
                var agent = _agents[id];
                _agents.Remove(id);
                foreach (var trial in agent.InFlight)
                {
                    _qualityInFlight.Remove(trial);
                    Timers.Cancel(Key(trial, Work.Quality));
                    Enqueue(trial, front: true); // death watch: re-issue at once
                }
                _log.Warning("experiment {0}: trainer {1} left; re-issuing {2} trainings", _name, id, agent.InFlight.Count);
            }
            AssignQuality();
        });
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("experiment {0}: snapshot failed: {1}", _name, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public static Props Props(string name, IActorRef evaluators, DatabaseTarget db) => Akka.Actor.Props.Create(() => new ExperimentActor(name, evaluators, db));

    // ----- Commands -----

    private void Start(StartExperiment start)
    {
        if (_state is not null)
        {
            Refuse($"experiment '{_name}' already exists; continue it with `nascluster resume {_name}`");
            return;
        }
        var spec = start.Spec;
        Space space;
        ISearchController controller;
        try
        {
            space = SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource);
            controller = Controllers.Create(spec.Controller, space, spec.Seed);
            if (start.ControllerState is { } inherited)
            {
                try
                {
                    controller = Controllers.Restore(space, spec.Controller, inherited);
                }
                catch (Exception e) when (e is NasInputException or JsonException)
                {
                    _log.Warning("experiment {0}: the parent's controller state does not fit the new space ({1}); starting a fresh controller", _name, e.Message);
                }
            }
        }
        catch (NasInputException e)
        {
            Refuse(e.Message);
            return;
        }
        if (!TryLock()) return;
        var sender = Sender;
        Persist(new ExperimentCreated(spec, controller.ExportState(), Now()), e =>
        {
            _state = ExperimentState.Created(e);
            sender.Tell(new ExperimentAccepted(_name, false, 0));
            Activate(space);
        });
    }

    private void Resume(ResumeExperiment resume)
    {
        if (_state is null)
        {
            Refuse($"unknown experiment '{_name}' (see `nascluster list`)");
            Context.Stop(Self);
            return;
        }
        if (_active && resume.ForkAs is null)
        {
            Sender.Tell(new ExperimentAccepted(_name, true, _state.Completed + _state.Failed)); // already running here
            return;
        }
        var spec = _state.Spec;
        ExperimentSpecs.ResumeCheck check;
        try
        {
            check = ExperimentSpecs.CheckResume(spec);
        }
        catch (NasInputException e)
        {
            Refuse($"cannot resume '{_name}': {e.Message}");
            return;
        }
        foreach (var note in check.Notes) _log.Warning("experiment {0}: {1}", _name, note);
        if (resume.ForkAs is { } fork)
        {
            ExperimentSpec forked;
            try
            {
                forked = ExperimentSpecs.Fork(check.Current, fork, _state.Completed + _state.Failed);
            }
            catch (NasInputException e)
            {
                Refuse(e.Message);
                return;
            }
            // The registry creates the fork (refusing a name that exists) and answers the client.
            Context.Parent.Forward(new StartExperiment(forked, _state.ControllerState));
            if (!_active) Context.Stop(Self);
            return;
        }
        if (check.Differences.Count > 0)
        {
            Refuse($"cannot resume '{_name}': {string.Join("; ", check.Differences)}. Its results would not be comparable; " +
                   $"continue under a new name with `nascluster resume {_name} --fork NEW`");
            return;
        }
        if (_state.Finished)
        {
            Sender.Tell(new ExperimentAccepted(_name, true, _state.Completed + _state.Failed));
            AnnounceDone();
            return;
        }
        if (!TryLock()) return;
        Sender.Tell(new ExperimentAccepted(_name, true, _state.Completed + _state.Failed));
        Activate(SearchSpaceLoader.Parse(spec.SpaceJson, spec.SpaceSource));
    }

    /// <summary>One running copy per experiment, across processes sharing the database (refused otherwise).</summary>
    private bool TryLock()
    {
        if (_lock is not null) return true;
        try
        {
            _lock = ExperimentLock.Acquire(_db, _name);
            return true;
        }
        catch (NasInputException e)
        {
            Refuse(e.Message);
            Context.Stop(Self);
            return false;
        }
    }

    protected override void PostStop()
    {
        _lock?.Dispose();
        _lock = null;
        base.PostStop();
    }

    private void Refuse(string reason)
    {
        var refusal = new ExperimentRefused(_name, reason);
        Sender.Tell(refusal);
        if (!Sender.Equals(Context.Parent)) Context.Parent.Tell(refusal);
    }

    private void Activate(Space space)
    {
        _space = space;
        _active = true;
        Drive();
        DispatchOutstanding();
        Notify();
    }

    // ----- Driving the search -----

    private void Drive()
    {
        if (!_active || _driving > 0 || _state is null || _space is null) return;
        var events = _state.Next(_space, Now(), BuildAndKeep);
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
            _built.Clear(); // what was not dispatched repeats an earlier trial
            Notify();
            Drive();
        });
    }

    private void DispatchOutstanding()
    {
        if (!_active || _state is null || _space is null) return;
        var now = Now();
        var dispatches = new List<DispatchAttempted>();
        foreach (var t in _state.Outstanding(Work.Cost))
        {
            if (_costInFlight.ContainsKey(t.Id) || _pendingCost.Contains(t.Id)) continue;
            var dispatch = _state.Dispatch(t.Id, Work.Cost, "evaluator", now);
            _costInFlight[t.Id] = dispatch.Attempt;
            Architecture(t); // written now, while the network built for the proposal is at hand
            dispatches.Add(dispatch);
        }
        if (dispatches.Count > 0)
            PersistAllAsync(dispatches, e =>
            {
                _state = _state!.Apply(e);
                var spec = _state.Spec;
                var t = _state.Trials[e.TrialId];
                _evaluators.Tell(new Evaluate(EntityIdOf(spec.HardwareFingerprint, t.Hash), spec.Hardware, spec.HardwareJson, Architecture(t), spec.Fidelity,
                    Correlation(t.Id, e.Attempt)));
                Timers.StartSingleTimer(Key(t.Id, Work.Cost), new Deadline(t.Id, Work.Cost, e.Attempt), Timeout(spec.EvaluationTimeoutMs, e.Attempt));
                AfterPersist();
            });
        foreach (var t in _state.Outstanding(Work.Quality))
            if (!_qualityInFlight.ContainsKey(t.Id) && !_pendingQuality.Contains(t.Id)) Enqueue(t.Id, front: false);
        AssignQuality();
    }

    /// <summary>Builds a proposed candidate's network and keeps it until the trial is dispatched.</summary>
    private Network BuildAndKeep(Candidate c)
    {
        var network = _space!.Build(c);
        _built[VectorKey(c.Vector)] = network;
        return network;
    }

    /// <summary>A trial's architecture as sent to workers: written once, kept while the trial has work out.</summary>
    private string Architecture(TrialState t)
    {
        if (_archJson.TryGetValue(t.Id, out var json)) return json;
        var key = VectorKey(t.Vector);
        var network = _built.Remove(key, out var kept) ? kept : _space!.Build(_space.FromVector(t.Vector));
        json = ArchJson.Write(network);
        _archJson[t.Id] = json;
        return json;
    }

    private static string VectorKey(IReadOnlyList<int> vector) => string.Join(',', vector);

    private void Enqueue(int trial, bool front)
    {
        if (!_queued.Add(trial)) return;
        if (front) _qualityQueue.AddFirst(trial);
        else _qualityQueue.AddLast(trial);
    }

    private void AssignQuality()
    {
        if (!_active || _state is null || _space is null) return;
        var dispatches = new List<DispatchAttempted>();
        while (_qualityQueue.Count > 0)
        {
            var (agentId, agent) = _agents.Where(a => a.Value.Free > 0).OrderByDescending(a => a.Value.Free).ThenBy(a => a.Key).FirstOrDefault();
            if (agent is null) break;
            var trial = _qualityQueue.First!.Value;
            _qualityQueue.RemoveFirst();
            _queued.Remove(trial);
            var t = _state.Trials[trial];
            if (!_state.Needs(t, Work.Quality) || _qualityInFlight.ContainsKey(trial) || _pendingQuality.Contains(trial)) continue;
            var dispatch = _state.Dispatch(trial, Work.Quality, agentId, Now());
            _qualityInFlight[trial] = (dispatch.Attempt, agentId);
            agent.InFlight.Add(trial);
            dispatches.Add(dispatch);
        }
        if (dispatches.Count == 0) return;
        PersistAllAsync(dispatches, e =>
        {
            _state = _state!.Apply(e);
            var spec = _state.Spec;
            if (!_agents.TryGetValue(e.Worker, out var agent) || !_qualityInFlight.TryGetValue(e.TrialId, out var q) || q.Attempt != e.Attempt)
                return; // the agent left while the dispatch was being persisted; death watch already re-queued the trial
            var timeout = Timeout(spec.TrainingTimeoutMs, e.Attempt);
            var deadline = DateTimeOffset.UtcNow.Add(timeout).ToUnixTimeMilliseconds();
            agent.Actor.Tell(new WorkAssignment(_name, e.TrialId, e.Attempt, Architecture(_state.Trials[e.TrialId]), spec.QualityMode, spec.ProxySteps,
                spec.Seed + e.TrialId, deadline));
            Timers.StartSingleTimer(Key(e.TrialId, Work.Quality), new Deadline(e.TrialId, Work.Quality, e.Attempt), timeout);
            AfterPersist();
        });
    }

    private void AddAgent(string agentId, int slots, IActorRef actor)
    {
        if (_agents.TryGetValue(agentId, out var known) && known.Actor.Equals(actor))
        {
            known.Slots = slots;
            known.Saturated = false;
        }
        else
        {
            _agents[agentId] = new Agent(actor, slots);
            Context.Watch(actor);
        }
        AssignQuality();
    }

    // ----- Results -----

    private void OnEvaluation(EvaluationResult r)
    {
        if (_state is null || Parse(r.CorrelationId) is not var (trial, attempt)) return;
        if (r.SimulatorVersion != _state.Spec.SimulatorVersion)
        {
            if (!EndCostAttempt(trial, attempt)) return;
            _log.Warning("experiment {0}: evaluator {1} runs simulator {2}, the experiment uses {3}; its result is not accepted", _name, r.Node,
                r.SimulatorVersion, _state.Spec.SimulatorVersion);
            AttemptFailed(trial, Work.Cost, attempt, $"evaluator {r.Node} runs simulator {r.SimulatorVersion}, the experiment uses {_state.Spec.SimulatorVersion}");
            return;
        }
        if (_pendingCost.Contains(trial) || _state.OnCost(trial, r.Cost, r.Node) is not { } recorded) return; // late or duplicate: dropped
        _pendingCost.Add(trial);
        PersistAsync(recorded, e =>
        {
            _state = _state!.Apply(e);
            _pendingCost.Remove(trial);
            _costInFlight.Remove(trial);
            Timers.Cancel(Key(trial, Work.Cost));
            AfterResult(trial);
        });
    }

    private void OnWorkResult(WorkResult r)
    {
        var sender = Sender;
        if (_agents.TryGetValue(r.AgentId, out var agent))
        {
            agent.InFlight.Remove(r.TrialId);
            agent.Saturated = false;
        }
        if (_qualityInFlight.TryGetValue(r.TrialId, out var q) && q.Agent == r.AgentId)
        {
            _qualityInFlight.Remove(r.TrialId);
            Timers.Cancel(Key(r.TrialId, Work.Quality));
        }
        if (_state is null || _pendingQuality.Contains(r.TrialId))
        {
            sender.Tell(new WorkAck(_name, r.TrialId, r.Attempt));
            return;
        }
        var o = r.Outcome;
        if (!o.Succeeded)
        {
            sender.Tell(new WorkAck(_name, r.TrialId, r.Attempt));
            if (_state.Needs(_state.Trials[r.TrialId], Work.Quality)) AttemptFailed(r.TrialId, Work.Quality, r.Attempt, o.FailureReason ?? "training failed");
            else AssignQuality();
            return;
        }
        if (_state.OnQuality(r.TrialId, o.Score, o.Loss, o.WallSeconds, o.StepsPerSecond, r.AgentId, o.WeightsPath, o.WeightsSha256) is not { } recorded)
        {
            sender.Tell(new WorkAck(_name, r.TrialId, r.Attempt)); // late or duplicate: acknowledged and dropped
            AssignQuality();
            return;
        }
        _pendingQuality.Add(r.TrialId);
        PersistAsync(recorded, e =>
        {
            _state = _state!.Apply(e);
            _pendingQuality.Remove(r.TrialId);
            sender.Tell(new WorkAck(_name, r.TrialId, r.Attempt)); // only after the result is in the journal
            AfterResult(r.TrialId);
        });
        AssignQuality();
    }

    /// <summary>Ends the evaluation in flight for the trial if it is this attempt: forgets it and cancels its deadline.</summary>
    private bool EndCostAttempt(int trial, int attempt)
    {
        if (!_costInFlight.TryGetValue(trial, out var current) || current != attempt) return false;
        _costInFlight.Remove(trial);
        Timers.Cancel(Key(trial, Work.Cost));
        return true;
    }

    /// <summary>Ends the training in flight for the trial if it is this attempt: forgets it, cancels its deadline and frees the
    /// agent's slot (<paramref name="agent"/>: the agent it was on, if still known).</summary>
    private bool EndQualityAttempt(int trial, int attempt, out Agent? agent)
    {
        agent = null;
        if (!_qualityInFlight.TryGetValue(trial, out var q) || q.Attempt != attempt) return false;
        _qualityInFlight.Remove(trial);
        Timers.Cancel(Key(trial, Work.Quality));
        if (_agents.TryGetValue(q.Agent, out agent)) agent.InFlight.Remove(trial);
        return true;
    }

    private void AttemptFailed(int trial, string work, int attempt, string reason, bool permanent = false)
    {
        if (_state!.OnAttemptFailed(trial, work, attempt, reason, permanent) is { } failed)
        {
            PersistAsync(failed, e =>
            {
                _state = _state!.Apply(e);
                AfterResult(trial);
            });
            return;
        }
        DispatchOutstanding(); // another attempt
    }

    private void AfterResult(int trial)
    {
        if (_state!.IsDone(_state.Trials[trial])) _archJson.Remove(trial);
        AfterPersist();
        Notify();
        Drive();
        AssignQuality();
    }

    private void AfterPersist()
    {
        // Every SnapshotEvery events, or every (trials) events once the ledger is larger: a snapshot costs
        // time in proportion to the ledger, so this keeps its share per event constant while bounding
        // what a recovery replays.
        if (_state is null || LastSequenceNr - _lastSnapshotSeq < Math.Max(_state.Spec.SnapshotEvery, _state.Trials.Count)) return;
        _lastSnapshotSeq = LastSequenceNr;
        SaveSnapshot(new ExperimentSnapshot(1, ExperimentStateJson.Write(_state)));
    }

    // ----- Helpers -----

    /// <summary>Progress goes to watchers at most every <see cref="ProgressInterval"/>: it is a pass over the ledger.</summary>
    private void Notify()
    {
        if (_watchers.Count == 0 || Timers.IsTimerActive(ProgressTimer)) return;
        Timers.StartSingleTimer(ProgressTimer, ProgressTick.Instance, ProgressInterval);
    }

    private void SendProgress()
    {
        if (_watchers.Count == 0) return;
        var p = Progress();
        foreach (var w in _watchers) w.Tell(p);
    }

    private void AnnounceDone()
    {
        Timers.Cancel(ProgressTimer);
        SendProgress();
        var tally = _state!.Tally();
        foreach (var w in _watchers) w.Tell(new ExperimentDone(_name, tally.Completed, tally.Failed));
    }

    private ExperimentProgress Progress()
    {
        if (_state is null) return new ExperimentProgress(_name, 0, 0, 0, 0, 0, null, 0, 0);
        var tally = _state.Tally();
        return new ExperimentProgress(_name, _state.Trials.Count, tally.Completed, tally.Failed, tally.InFlight, tally.Reused, tally.BestReward,
            _state.Front(CostMetric.LatencyMs).Count, _state.Spec.Trials);
    }

    private string Correlation(int trial, int attempt) => $"{_name}|{trial}|{attempt}";

    private static (int Trial, int Attempt)? Parse(string correlation)
    {
        var parts = correlation.Split('|');
        return parts.Length == 3 && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var t)
                                 && int.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var a)
            ? (t, a)
            : null;
    }

    private static string Key(int trial, string work) => $"{work}-{trial}";

    /// <summary>
    /// The deadline of an attempt doubles with each retry (×1, ×2, ×4, …): a node that crashed is usually
    /// downed and its shards moved within seconds to tens of seconds, and work re-issued into that gap must
    /// not use up a trial's attempts.
    /// </summary>
    internal static TimeSpan Timeout(int baseMs, int attempt) => TimeSpan.FromMilliseconds(baseMs * Math.Pow(2, Math.Clamp(attempt - 1, 0, 6)));

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}

/// <summary>Snapshots of <see cref="ExperimentState"/> as JSON (a cache of the events: deleting them only slows recovery).</summary>
public static class ExperimentStateJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Write(ExperimentState s) => JsonSerializer.Serialize(s, Options);

    public static ExperimentState Read(string json) => JsonSerializer.Deserialize<ExperimentState>(json, Options)
                                                        ?? throw new InvalidDataException("empty experiment snapshot");
}
