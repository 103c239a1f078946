using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;

namespace NasCluster.NodeHosting.Downing;

/// <summary>
/// The downing rule's timings (<c>nascluster.downing</c> in hocon/cluster.conf): the referee downs what has
/// been unreachable for <paramref name="StableAfter"/>; a successor takes over from an unreachable referee
/// after <paramref name="TakeoverAfter"/>, and only with the lease (<paramref name="LeaseTtl"/>).
/// </summary>
public sealed record DowningSettings(TimeSpan StableAfter, TimeSpan TakeoverAfter, TimeSpan LeaseTtl)
{
    /// <summary>How recent an answer of the referee to this node's own probe must be to count.</summary>
    public TimeSpan ProbeFreshness { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a node that cannot reach the referee waits before it downs itself: long enough for a
    /// successor coordinator to take over first (takeover-after, then the dead referee's lease running out).
    /// </summary>
    public TimeSpan SelfDownAfter => TakeoverAfter + LeaseTtl + TakeoverAfter;
}

/// <summary>A cluster member as the rule sees it; a state's member list is ordered oldest first.</summary>
public sealed record DowningMember(Address Address, bool IsCoordinator, MemberStatus Status)
{
    /// <summary>Up or Leaving: a member that can hold the registry singleton (Joining, Exiting, Down cannot).</summary>
    public bool CanReferee => IsCoordinator && Status is MemberStatus.Up or MemberStatus.Leaving;
}

/// <summary>What a node does on one tick.</summary>
public abstract record DowningDecision
{
    public static readonly DowningDecision Wait = new WaitDecision();

    private sealed record WaitDecision : DowningDecision;
}

/// <summary>The referee downs members that have been unreachable for stable-after.</summary>
public sealed record DownNodes(ImmutableList<Address> Nodes) : DowningDecision;

/// <summary>The referee is gone from this coordinator's view: take the database lease, and only then down <see cref="Nodes"/> (the referee among them).</summary>
public sealed record TakeOver(Address Referee, ImmutableList<Address> Nodes) : DowningDecision;

/// <summary>This node has been cut off from the referee for longer than a takeover takes: it leaves by downing itself.</summary>
public sealed record DownSelf(string Reason) : DowningDecision;

/// <summary>
/// The "keep the coordinator" downing rule, as a value: which node may down which. NasCluster's cluster is
/// not symmetric — coordinators hold every experiment's state, evaluator and trainer nodes hold nothing
/// that is not re-issued — so no worker's crash, however many and however spaced, may cost the coordinator
/// its membership. The referee is the oldest coordinator (where the registry singleton lives); only it
/// downs others. A node that cannot reach the referee (its own probe gets no answer) waits: a coordinator
/// whose elders are all unreachable takes over after takeover-after, but only by winning the lease in the
/// experiment database, which a live referee keeps renewing; any other cut-off node downs itself once a
/// takeover would have happened. Unit-tested in <c>KeepCoordinatorRuleTests</c>; why not Akka's
/// split-brain resolver is in docs/cluster.md.
/// </summary>
public sealed record DowningState
{
    public required Address Self { get; init; }

    public ImmutableList<DowningMember> Members { get; init; } = [];

    public ImmutableHashSet<Address> Unreachable { get; init; } = [];

    /// <summary>When the set of downable unreachable members last changed.</summary>
    public TimeSpan UnreachableChangedAt { get; init; }

    public Address? AnsweringReferee { get; init; }

    public TimeSpan RefereeAnsweredAt { get; init; }

    public Address? CutOffFrom { get; init; }

    public TimeSpan CutOffSince { get; init; }

    public DowningMember? Referee => Members.FirstOrDefault(m => m.CanReferee);

    public bool IsReferee => Referee is { } r && r.Address.Equals(Self);

    /// <summary>Unreachable members not yet Down or Exiting (those no longer block the cluster).</summary>
    public ImmutableList<Address> Downable =>
        [.. Members.Where(m => Unreachable.Contains(m.Address) && !m.Address.Equals(Self) && m.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed))
            .Select(m => m.Address)];

    /// <summary>The cluster's current view: members oldest first and the unreachable set; stable-after restarts when the downable set changes.</summary>
    public DowningState WithView(IEnumerable<DowningMember> oldestFirst, IEnumerable<Address> unreachable, TimeSpan now)
    {
        var before = Downable;
        var next = this with { Members = [.. oldestFirst], Unreachable = [.. unreachable] };
        return before.ToHashSet().SetEquals(next.Downable) ? next : next with { UnreachableChangedAt = now };
    }

    /// <summary>The referee answered this node's own probe: it is alive and reachable from here, whatever others observe.</summary>
    public DowningState WithProbeAnswer(Address referee, TimeSpan now) => this with { AnsweringReferee = referee, RefereeAnsweredAt = now };

    /// <summary>Whether to probe the referee this tick: it is unreachable as the cluster sees it.</summary>
    public Address? RefereeToProbe => Referee is { } r && !r.Address.Equals(Self) && Unreachable.Contains(r.Address) ? r.Address : null;

    public (DowningState State, DowningDecision Decision) Tick(TimeSpan now, DowningSettings settings)
    {
        var referee = Referee;
        var downable = Downable;
        var quiet = now - UnreachableChangedAt;
        if (referee is not null && referee.Address.Equals(Self))
            return (this with { CutOffFrom = null }, downable.Count > 0 && quiet >= settings.StableAfter ? new DownNodes(downable) : DowningDecision.Wait);

        var answers = referee is not null && referee.Address.Equals(AnsweringReferee) && now - RefereeAnsweredAt <= settings.ProbeFreshness;
        var cutOff = (referee is null || Unreachable.Contains(referee.Address)) && !answers;
        if (!cutOff) return (this with { CutOffFrom = null }, DowningDecision.Wait);

        // Cut off: from this referee since when (a new referee starts the clock again).
        var self = Members.FirstOrDefault(m => m.Address.Equals(Self));
        var from = referee?.Address ?? Self;
        var state = from.Equals(CutOffFrom) ? this : this with { CutOffFrom = from, CutOffSince = now };
        if (now - state.CutOffSince >= settings.SelfDownAfter)
            return (state, new DownSelf(referee is null
                ? "no coordinator is left in the cluster"
                : $"cut off from the coordinator {referee.Address} for {(now - state.CutOffSince).TotalSeconds:0} s and no coordinator took over"));
        if (referee is null || self is null || !self.CanReferee || quiet < settings.TakeoverAfter) return (state, DowningDecision.Wait);

        // A successor: every coordinator older than this one is unreachable.
        var elders = Members.TakeWhile(m => !m.Address.Equals(Self)).Where(m => m.CanReferee);
        return elders.All(e => Unreachable.Contains(e.Address))
            ? (state, new TakeOver(referee.Address, downable))
            : (state, DowningDecision.Wait);
    }
}
