using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;

namespace NasCluster.NodeHosting.Downing;

/// <summary>
/// Akka's downing provider for NasCluster (<c>akka.cluster.downing-provider-class</c> in hocon/cluster.conf):
/// runs <see cref="KeepCoordinatorDowningActor"/> on every node, so every node applies the same
/// <see cref="DowningState"/> rule.
/// </summary>
public sealed class KeepCoordinatorDowningProvider : IDowningProvider
{
    private readonly ActorSystem _system;
    private readonly Akka.Cluster.Cluster _cluster;

    public KeepCoordinatorDowningProvider(ActorSystem system, Akka.Cluster.Cluster cluster)
    {
        _system = system;
        _cluster = cluster;
        Settings = ReadSettings(system.Settings.Config);
    }

    public DowningSettings Settings { get; }

    /// <summary>
    /// How long after a removal the singleton and shards of removed nodes start elsewhere. Short: the
    /// experiment lock in the database already fences a second copy of an experiment, and a crashed
    /// coordinator's lock is gone with its process.
    /// </summary>
    public TimeSpan DownRemovalMargin => TimeSpan.FromSeconds(1);

    public Props DowningActorProps => Props.Create(() => new KeepCoordinatorDowningActor(_cluster, Settings, LoadLease(_system, _cluster)));

    public static DowningSettings ReadSettings(Config config) =>
        new(config.GetTimeSpan("nascluster.downing.stable-after", TimeSpan.FromSeconds(2)),
            config.GetTimeSpan("nascluster.downing.takeover-after", TimeSpan.FromSeconds(5)),
            config.GetTimeSpan("nascluster.downing.lease-ttl", TimeSpan.FromSeconds(5)));

    /// <summary>The lease of a coordinator node (none on other roles: they never take over).</summary>
    private static ICoordinatorLease? LoadLease(ActorSystem system, Akka.Cluster.Cluster cluster)
    {
        var config = system.Settings.Config;
        var className = config.GetString("nascluster.downing.lease-class", "");
        if (!cluster.SelfRoles.Contains("coordinator") || string.IsNullOrWhiteSpace(className)) return null;
        var type = Type.GetType(className, throwOnError: true)!;
        var db = NodeConfig.ParseDb(config.GetString("nascluster.db", NodeConfig.DefaultDb));
        return (ICoordinatorLease)Activator.CreateInstance(type, db)!;
    }
}

/// <summary>
/// The thin actor around <see cref="DowningState"/>: every second it reads the cluster's view, probes the
/// referee when the cluster marks it unreachable (an <see cref="Identify"/> to the referee's own downing
/// actor — an answer means it is alive and reachable from here), renews the lease while it is the referee
/// of a cluster with another coordinator, and carries out the rule's decision through <c>Cluster.Down</c>.
/// </summary>
public sealed class KeepCoordinatorDowningActor : ReceiveActor, IWithTimers
{
    private sealed record Tick;

    private sealed record LeaseResult(LeaseAnswer Answer, TakeOver? ForTakeOver);

    private readonly Akka.Cluster.Cluster _cluster;
    private readonly DowningSettings _settings;
    private readonly ICoordinatorLease? _lease;
    private readonly string _owner;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private DowningState _state;
    private bool _leaseInFlight;
    private bool _leaderless;
    private bool _downedSelf;

    public ITimerScheduler Timers { get; set; } = null!;

    public KeepCoordinatorDowningActor(Akka.Cluster.Cluster cluster, DowningSettings settings, ICoordinatorLease? lease)
    {
        _cluster = cluster;
        _settings = settings;
        _lease = lease;
        _owner = $"{cluster.SelfAddress.HostPort()}#{cluster.SelfUniqueAddress.Uid}";
        _state = new DowningState { Self = cluster.SelfAddress };
        Receive<Tick>(_ => OnTick());
        // Membership and reachability changes update the view at once, so stable-after counts from the change, not the next tick.
        Receive<ClusterEvent.IMemberEvent>(_ => UpdateView());
        Receive<ClusterEvent.IReachabilityEvent>(_ => UpdateView());
        Receive<ClusterEvent.CurrentClusterState>(_ => UpdateView());
        Receive<ActorIdentity>(a =>
        {
            if (a.Subject is not null) _state = _state.WithProbeAnswer(a.Subject.Path.Address, Now);
        });
        Receive<LeaseResult>(OnLease);
    }

    private TimeSpan Now => _clock.Elapsed;

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.FromSeconds(1));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        _lease?.Dispose();
    }

    private void UpdateView()
    {
        var view = _cluster.State;
        var members = view.Members.OrderBy(m => m, Member.AgeOrdering)
            .Select(m => new DowningMember(m.Address, m.HasRole("coordinator"), m.Status));
        _state = _state.WithView(members, view.Unreachable.Select(m => m.Address), Now);
    }

    private void OnTick()
    {
        UpdateView();
        if (_state.RefereeToProbe is { } referee)
            Context.ActorSelection(new RootActorPath(referee) / "system" / "cluster" / "core" / "daemon" / "downingProvider")
                .Tell(new Identify(referee.ToString()), Self);
        if (_lease is not null && !_leaseInFlight && _state.IsReferee && _state.Members.Count(m => m.CanReferee) > 1)
            AskLease(null);

        (_state, var decision) = _state.Tick(Now, _settings);
        switch (decision)
        {
            case DownNodes d:
                Down(d.Nodes, "unreachable for stable-after");
                break;
            case TakeOver t when _lease is null:
                if (!_leaderless) _log.Error("the coordinator {0} is unreachable, but this node has no lease to take over with (nascluster.downing.lease-class)", t.Referee);
                _leaderless = true;
                break;
            case TakeOver t when !_leaseInFlight:
                AskLease(t);
                break;
            case DownSelf s:
                DownSelf(s.Reason);
                break;
        }
    }

    private void AskLease(TakeOver? takeOver)
    {
        _leaseInFlight = true;
        _lease!.TryAcquireAsync(_owner, _settings.LeaseTtl)
            .ContinueWith(t => new LeaseResult(t.IsCompletedSuccessfully ? t.Result : new LeaseAnswer(LeaseOutcome.Unavailable, Error: t.Exception?.GetBaseException().Message), takeOver),
                TaskScheduler.Default)
            .PipeTo(Self);
    }

    private void OnLease(LeaseResult r)
    {
        _leaseInFlight = false;
        switch (r.Answer.Outcome)
        {
            case LeaseOutcome.Held when r.ForTakeOver is { } t:
                _log.Warning("the coordinator {0} is unreachable from here and its lease ran out: this coordinator takes over", t.Referee);
                Down(_state.Downable, "taken over");
                break;
            case LeaseOutcome.HeldByOther when r.ForTakeOver is null && _state.IsReferee:
                // Another coordinator took the lease: it judged this one dead, and its side is the cluster now.
                DownSelf($"another coordinator ({r.Answer.Holder ?? "?"}) holds the referee lease");
                break;
            case LeaseOutcome.Unavailable:
                _log.Warning("the referee lease could not be asked: {0}", r.Answer.Error ?? "database unavailable");
                break;
        }
    }

    /// <summary>Idempotent: the rule stops naming a node once the cluster shows it Down.</summary>
    private void Down(IEnumerable<Address> nodes, string why)
    {
        foreach (var node in nodes)
        {
            _log.Warning("downing {0}: {1}", node, why);
            _cluster.Down(node);
        }
    }

    private void DownSelf(string reason)
    {
        if (_downedSelf) return;
        _downedSelf = true;
        _log.Error("downing this node: {0}", reason);
        _cluster.Down(_cluster.SelfAddress);
    }
}
