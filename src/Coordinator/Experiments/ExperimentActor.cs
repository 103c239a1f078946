using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.Shared.Protocol;
using NasCluster.Shared.SearchSpace;
using NasCluster.Shared.Util;
using static NasCluster.Shared.Protocol.EvaluationProtocol;
using static NasCluster.Shared.Protocol.ExperimentProtocol;
using static NasCluster.Shared.Protocol.TrainingProtocol;

namespace NasCluster.Coordinator.Experiments;

/// <summary>
/// One experiment: a persistent actor (persistence id <c>experiment-NAME</c>) that is thin on purpose. The
/// ledger (<see cref="ExperimentState"/>) decides what the search does next and which results count; the
/// <see cref="TrialScheduler"/> decides which work goes out to whom; <see cref="ExperimentLifecycle"/> decides
/// what a start or resume comes to. This actor persists what they return, sends, and keeps the timers:
/// every dispatch is persisted before it is sent, results are persisted (asynchronously, so the journal can
/// batch) before they are acknowledged, deadlines and death watch end lost attempts, and after recovery
/// everything outstanding goes out again. A failing journal write stops the actor; the registry starts a
/// new incarnation, which recovers from the journal. This file: lifecycle, recovery and progress; the work
/// itself is in ExperimentActor.Work.cs.
/// </summary>
public sealed partial class ExperimentActor : ReceivePersistentActor, IWithTimers
{
    private sealed record ProgressTick;

    private const string ProgressTimer = "progress";
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(200);

    private readonly string _name;
    private readonly IActorRef _evaluators;
    private readonly DatabaseTarget _db;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TrialScheduler _scheduler = new();
    private readonly ArchitectureTexts _architectures = new();
    private readonly Dictionary<string, IActorRef> _agents = new(StringComparer.Ordinal);
    private readonly HashSet<IActorRef> _watchers = [];
    private ExperimentLock? _lock;
    private ExperimentState? _state;
    private Space? _space;
    private bool _active;
    private long _lastSnapshotSeq;

    // Kept weights files whose release was sent to the agent that wrote them (WeightsRetention).
    private readonly HashSet<string> _released = new(StringComparer.Ordinal);

    public ITimerScheduler Timers { get; set; } = null!;

    public override string PersistenceId { get; }

    public ExperimentActor(string name, IActorRef evaluators, DatabaseTarget db)
    {
        _name = name;
        _evaluators = evaluators;
        _db = db;
        PersistenceId = PersistenceIdOf(name);

        Recover<SnapshotOffer>(o =>
        {
            _state = ExperimentSnapshotCodec.FromSnapshot(o.Snapshot);
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
            Sender.Tell(ExperimentState.Progress(_name, _state));
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
            Sender.Tell(new ExperimentStateReply(_name, _state is null ? null : ExperimentSnapshotCodec.ToSnapshot(_state), _active));
            if (_state is null && !_active) Context.Stop(Self); // asked about an experiment that does not exist
        });
        Command<TrainerAvailable>(t => AgentAvailable(t.AgentId, t.Slots, Sender));
        Command<EvaluationResult>(OnEvaluation);
        Command<EvaluationFailed>(OnEvaluationFailed);
        Command<WorkResult>(OnWorkResult);
        Command<WorkRefused>(OnWorkRefused);
        Command<Deadline>(OnDeadline);
        Command<Akka.Cluster.ClusterEvent.MemberRemoved>(m => OnMemberRemoved(m.Member));
        Command<ResendTick>(_ => ResendEvaluations());
        Command<Terminated>(t => OnTerminated(t.ActorRef));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("experiment {0}: snapshot failed: {1}", _name, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public static Props Props(string name, IActorRef evaluators, DatabaseTarget db) => Akka.Actor.Props.Create(() => new ExperimentActor(name, evaluators, db));

    private void Start(StartExperiment start)
    {
        if (_state is not null)
        {
            Refuse($"experiment '{_name}' already exists; continue it with `nascluster resume {_name}`");
            return;
        }
        Space space;
        ExperimentCreated created;
        try
        {
            (space, created) = ExperimentLifecycle.Create(start, Now(), out var warning);
            if (warning is not null) _log.Warning("experiment {0}: {1}", _name, warning);
        }
        catch (NasInputException e)
        {
            Refuse(e.Message);
            return;
        }
        if (!TryLock()) return;
        var sender = Sender;
        Persist(created, e =>
        {
            _state = ExperimentState.Created(e);
            sender.Tell(new ExperimentAccepted(_name, false, 0));
            Activate(space);
        });
    }

    private void Resume(ResumeExperiment resume)
    {
        var decision = ExperimentLifecycle.Resume(_name, _state, _active, resume, out var notes);
        foreach (var note in notes) _log.Warning("experiment {0}: {1}", _name, note);
        var done = _state is null ? 0 : _state.Completed + _state.Failed;
        switch (decision)
        {
            case ResumeDecision.Refuse r:
                Refuse(r.Reason);
                if (r.Stop) Context.Stop(Self);
                break;
            case ResumeDecision.AlreadyRunning:
                Sender.Tell(new ExperimentAccepted(_name, true, done));
                break;
            case ResumeDecision.Fork f:
                Context.Parent.Forward(f.Start); // the registry creates the fork (refusing a name that exists) and answers the client
                if (!_active) Context.Stop(Self);
                break;
            case ResumeDecision.AlreadyFinished:
                Sender.Tell(new ExperimentAccepted(_name, true, done));
                AnnounceDone();
                break;
            case ResumeDecision.Continue:
                if (!TryLock()) return;
                Sender.Tell(new ExperimentAccepted(_name, true, done)); // before the space is parsed: the client waits for this
                Activate(SearchSpaceLoader.Parse(_state!.Spec.SpaceJson, _state.Spec.SpaceSource));
                break;
        }
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
            Context.Parent.Tell(new ExperimentRegistry.LockBusy(_name));
            Refuse(e.Message);
            Context.Stop(Self);
            return false;
        }
    }

    private static bool InCluster => Context.System.Settings.ProviderClass.Contains("Cluster", StringComparison.Ordinal);

    protected override void PreStart()
    {
        base.PreStart();
        // An evaluator node's removal re-sends the evaluations that may have been on it (ExperimentActor.Work.cs).
        if (InCluster) Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, typeof(Akka.Cluster.ClusterEvent.MemberRemoved));
    }

    protected override void PostStop()
    {
        if (InCluster) Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        _lock?.Dispose();
        _lock = null;
        base.PostStop();
    }

    /// <summary>
    /// A journal write failed; Akka stops the actor after this. A fault waiting will not cure (a full or
    /// read-only SQLite disk) halts the experiment: watchers and the registry are told, so it is not restarted
    /// and a standalone search ends with the reason. Anything else (a database that went away) is restarted
    /// by the registry.
    /// </summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (StorageFault.Describe(cause, _db, _name) is { } reason)
        {
            _log.Error("experiment {0} halted: {1}", _name, reason);
            _active = false;
            var halted = new ExperimentHalted(_name, reason);
            foreach (var w in _watchers) w.Tell(halted);
            if (!_watchers.Contains(Context.Parent)) Context.Parent.Tell(halted);
        }
        base.OnPersistFailure(cause, @event, sequenceNr);
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
        Timers.StartPeriodicTimer("resend-evaluations", new ResendTick(), ResendInterval);
        Drive();
        DispatchOutstanding();
        Notify();
    }

    private void AfterPersist()
    {
        // Every SnapshotEvery events, or every (trials) events once the ledger is larger: a snapshot costs
        // time in proportion to the ledger, so this keeps its share per event constant while bounding
        // what a recovery replays.
        if (_state is null || LastSequenceNr - _lastSnapshotSeq < Math.Max(_state.Spec.SnapshotEvery, _state.Trials.Count)) return;
        _lastSnapshotSeq = LastSequenceNr;
        SaveSnapshot(ExperimentSnapshotCodec.ToSnapshot(_state));
    }

    // ----- Progress -----

    /// <summary>Progress goes to watchers at most every <see cref="ProgressInterval"/>: it is a pass over the ledger.</summary>
    private void Notify()
    {
        if (_watchers.Count == 0 || Timers.IsTimerActive(ProgressTimer)) return;
        Timers.StartSingleTimer(ProgressTimer, new ProgressTick(), ProgressInterval);
    }

    private void SendProgress()
    {
        if (_watchers.Count == 0) return;
        var p = ExperimentState.Progress(_name, _state);
        foreach (var w in _watchers) w.Tell(p);
    }

    private void AnnounceDone()
    {
        Timers.Cancel(ProgressTimer);
        SendProgress();
        var tally = _state!.Tally();
        foreach (var w in _watchers) w.Tell(new ExperimentDone(_name, tally.Completed, tally.Failed));
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
