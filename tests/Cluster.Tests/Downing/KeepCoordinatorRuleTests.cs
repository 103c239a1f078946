using Akka.Actor;
using Akka.Cluster;
using NasCluster.NodeHosting.Downing;

namespace NasCluster.Cluster.Tests.Downing;

/// <summary>
/// The downing rule on simulated views, second by second: what each node decides when workers crash alone,
/// together or in cascades, when the coordinator dies with a second one standing by, when a link is one-sided,
/// and when the coordinators are partitioned from each other.
/// </summary>
public sealed class KeepCoordinatorRuleTests
{
    private static readonly DowningSettings Settings = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));

    private static Address Node(int port) => new("akka.tcp", "nascluster", "127.0.0.1", port);

    private static readonly Address C1 = Node(4053), C2 = Node(4054), C3 = Node(4055);
    private static readonly Address E1 = Node(5001), E2 = Node(5002), T1 = Node(6001), T2 = Node(6002);

    private static DowningMember Coordinator(Address a, MemberStatus s = MemberStatus.Up) => new(a, true, s);

    private static DowningMember Worker(Address a, MemberStatus s = MemberStatus.Up) => new(a, false, s);

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>A node's view over time: members oldest first, and what the cluster marks unreachable.</summary>
    private sealed class Simulation(Address self, params DowningMember[] members)
    {
        private readonly List<DowningMember> _members = [.. members];
        private readonly HashSet<Address> _unreachable = [];
        private DowningState _state = new() { Self = self };

        public List<(TimeSpan At, DowningDecision Decision)> Decisions { get; } = [];

        public void Unreachable(Address a) => _unreachable.Add(a);

        public void Reachable(Address a) => _unreachable.Remove(a);

        public void Status(Address a, MemberStatus s)
        {
            var i = _members.FindIndex(m => m.Address.Equals(a));
            _members[i] = _members[i] with { Status = s };
        }

        public void Join(DowningMember m) => _members.Add(m);

        public void ProbeAnswered(Address referee, TimeSpan now) => _state = _state.WithProbeAnswer(referee, now);

        public DowningState State => _state;

        /// <summary>One tick at <paramref name="now"/>; a DownNodes/TakeOver decision marks its nodes Down, as the cluster would.</summary>
        public DowningDecision Tick(TimeSpan now, bool applyDowns = true)
        {
            _state = _state.WithView(_members, _unreachable, now);
            (_state, var d) = _state.Tick(now, Settings);
            Decisions.Add((now, d));
            if (applyDowns)
                foreach (var a in d switch { DownNodes n => n.Nodes, TakeOver t => t.Nodes, _ => [] })
                    Status(a, MemberStatus.Down);
            return d;
        }
    }

    [Fact]
    public void A_worker_crash_is_downed_by_the_coordinator_once_stable_after_has_passed()
    {
        var c = new Simulation(C1, Coordinator(C1), Worker(E1), Worker(T1));
        c.Tick(At(0));
        c.Unreachable(E1);
        Assert.Same(DowningDecision.Wait, c.Tick(At(1)));
        Assert.Same(DowningDecision.Wait, c.Tick(At(5.5)));
        Assert.Equal([E1], Assert.IsType<DownNodes>(c.Tick(At(6))).Nodes);
        Assert.Same(DowningDecision.Wait, c.Tick(At(7))); // Down now: not named again
    }

    [Fact]
    public void Every_worker_crashing_leaves_the_coordinator_up_and_downs_them_all()
    {
        // The sequence that made Akka's resolver down every node: a worker crashes, a second one that had
        // observed it crashes 6 s later (an observer that is itself unreachable), a third 6 s after that.
        var c = new Simulation(C1, Coordinator(C1), Worker(E1), Worker(E2), Worker(T1));
        c.Tick(At(0));
        c.Unreachable(E1);
        c.Tick(At(3));
        c.Unreachable(T1); // before E1's stable-after ran out: the clock restarts
        for (var t = 4; t <= 8; t++) Assert.Same(DowningDecision.Wait, c.Tick(At(t)));
        Assert.Equal([E1, T1], Assert.IsType<DownNodes>(c.Tick(At(9))).Nodes);
        c.Unreachable(E2); // alone now: still the cluster
        Assert.Same(DowningDecision.Wait, c.Tick(At(10)));
        Assert.Equal([E2], Assert.IsType<DownNodes>(c.Tick(At(15))).Nodes);
        Assert.DoesNotContain(c.Decisions, d => d.Decision is DownSelf or TakeOver);
    }

    [Fact]
    public void No_sequence_of_worker_crashes_at_any_spacing_downs_the_coordinator_and_every_dead_worker_is_downed()
    {
        var random = new Random(15);
        for (var run = 0; run < 300; run++)
        {
            Address[] workers = [E1, E2, T1, T2, Node(5003), Node(6003)];
            var c = new Simulation(C1, [Coordinator(C1), .. workers.Select(w => Worker(w))]);
            var deaths = workers.Where(_ => random.NextDouble() < 0.7)
                .Select(w => (Worker: w, At: Math.Round(random.NextDouble() * 30 * 2) / 2)).OrderBy(d => d.At).ToList();
            var downedAt = new Dictionary<Address, double>();
            for (var t = 0.0; t <= 60; t += 0.5)
            {
                foreach (var d in deaths.Where(d => d.At == t)) c.Unreachable(d.Worker);
                if (c.Tick(At(t)) is DownNodes n)
                    foreach (var a in n.Nodes) downedAt.TryAdd(a, t);
            }
            Assert.DoesNotContain(c.Decisions, d => d.Decision is DownSelf or TakeOver);
            Assert.Equal(deaths.Select(d => d.Worker).ToHashSet(), downedAt.Keys.ToHashSet()); // every dead one, nobody alive
            foreach (var (worker, at) in deaths)
            {
                // Downed once the unreachable set has been quiet for stable-after: at most that long after the last crash in its burst.
                var burstEnd = deaths.Where(d => d.At >= at).Select(d => d.At).Aggregate(at, (end, next) => next - end <= 5 ? next : end);
                Assert.InRange(downedAt[worker], at + 5, burstEnd + 5);
            }
        }
    }

    [Fact]
    public void The_referee_downs_after_stable_after_while_a_successor_waits_for_the_longer_takeover_after()
    {
        var settings = new DowningSettings(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        var c1 = new DowningState { Self = C1 }.WithView([Coordinator(C1), Coordinator(C2), Worker(E1)], [E1], At(0));
        Assert.Same(DowningDecision.Wait, c1.Tick(At(1.5), settings).Decision);
        Assert.Equal([E1], Assert.IsType<DownNodes>(c1.Tick(At(2), settings).Decision).Nodes);

        var c2 = new DowningState { Self = C2 }.WithView([Coordinator(C1), Coordinator(C2), Worker(E1)], [C1], At(0));
        Assert.Same(DowningDecision.Wait, c2.Tick(At(4.5), settings).Decision);
        Assert.IsType<TakeOver>(c2.Tick(At(5), settings).Decision);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.SelfDownAfter);
    }

    [Fact]
    public void A_worker_never_downs_others_and_waits_while_it_can_reach_the_coordinator()
    {
        var e = new Simulation(E2, Coordinator(C1), Worker(E1), Worker(E2), Worker(T1));
        e.Unreachable(E1);
        e.Unreachable(T1);
        for (var t = 0; t <= 60; t++) Assert.Same(DowningDecision.Wait, e.Tick(At(t), applyDowns: false));
    }

    [Fact]
    public void A_worker_cut_off_from_the_coordinator_downs_itself_after_a_takeover_would_have_happened()
    {
        var e = new Simulation(E1, Coordinator(C1), Worker(E1), Worker(T1));
        e.Tick(At(0));
        e.Unreachable(C1);
        e.Tick(At(1));
        for (var t = 2; t < 16; t++) Assert.Same(DowningDecision.Wait, e.Tick(At(t)));
        Assert.Contains("cut off from the coordinator", Assert.IsType<DownSelf>(e.Tick(At(16))).Reason);
    }

    [Fact]
    public void A_one_sided_link_does_not_make_the_standby_coordinator_take_over_and_the_cut_off_worker_leaves()
    {
        // E1 cannot hear C1; everyone else can. The cluster marks C1 unreachable (one observer is enough).
        var c2 = new Simulation(C2, Coordinator(C1), Coordinator(C2), Worker(E1));
        var e1 = new Simulation(E1, Coordinator(C1), Coordinator(C2), Worker(E1));
        c2.Unreachable(C1);
        e1.Unreachable(C1);
        for (var t = 0; t <= 20; t++)
        {
            c2.ProbeAnswered(C1, At(t)); // C1 answers C2's own probe
            Assert.Same(DowningDecision.Wait, c2.Tick(At(t)));
        }
        var e1Decisions = Enumerable.Range(0, 21).Select(t => e1.Tick(At(t))).ToList();
        Assert.IsType<DownSelf>(e1Decisions.Last());
        Assert.DoesNotContain(e1Decisions, d => d is DownNodes or TakeOver);
    }

    [Fact]
    public void When_the_coordinator_dies_the_next_oldest_takes_over_after_stable_after_and_the_workers_stay()
    {
        var c2 = new Simulation(C2, Coordinator(C1), Coordinator(C2), Coordinator(C3), Worker(E1));
        var c3 = new Simulation(C3, Coordinator(C1), Coordinator(C2), Coordinator(C3), Worker(E1));
        var e1 = new Simulation(E1, Coordinator(C1), Coordinator(C2), Coordinator(C3), Worker(E1));
        foreach (var s in new[] { c2, c3, e1 })
        {
            s.Tick(At(0));
            s.Unreachable(C1);
        }
        for (var t = 1; t < 6; t++) Assert.Same(DowningDecision.Wait, c2.Tick(At(t)));
        var takeOver = Assert.IsType<TakeOver>(c2.Tick(At(6)));
        Assert.Equal(C1, takeOver.Referee);
        Assert.Equal([C1], takeOver.Nodes);
        Assert.Same(DowningDecision.Wait, c2.Tick(At(7)));
        Assert.True(c2.State.IsReferee); // C1 is Down in its view now
        for (var t = 1; t <= 8; t++) Assert.Same(DowningDecision.Wait, c3.Tick(At(t), applyDowns: false)); // C2 is older: C3 waits

        // The workers see C1 Down (the takeover's gossip) before they would leave: C2 is their referee.
        for (var t = 1; t <= 8; t++) Assert.Same(DowningDecision.Wait, e1.Tick(At(t)));
        e1.Status(C1, MemberStatus.Down);
        e1.Reachable(C1);
        for (var t = 9; t <= 40; t++) Assert.Same(DowningDecision.Wait, e1.Tick(At(t)));
    }

    [Fact]
    public void When_the_two_oldest_coordinators_die_the_third_takes_over()
    {
        var c3 = new Simulation(C3, Coordinator(C1), Coordinator(C2), Coordinator(C3), Worker(E1));
        c3.Tick(At(0));
        c3.Unreachable(C1);
        c3.Tick(At(1));
        c3.Unreachable(C2);
        var takeOver = Assert.IsType<TakeOver>(Enumerable.Range(2, 10).Select(t => c3.Tick(At(t))).First(d => d is TakeOver));
        Assert.Equal([C1, C2], takeOver.Nodes);
    }

    [Fact]
    public void A_standby_that_keeps_losing_the_lease_to_a_live_coordinator_downs_itself()
    {
        // A partition between the coordinators: C2 decides TakeOver every tick, the lease refuses (the actor
        // does nothing), and once a takeover had its time C2 leaves.
        var c2 = new Simulation(C2, Coordinator(C1), Coordinator(C2), Worker(E1));
        c2.Tick(At(0));
        c2.Unreachable(C1);
        var decisions = Enumerable.Range(1, 16).Select(t => c2.Tick(At(t), applyDowns: false)).ToList();
        Assert.IsType<TakeOver>(decisions[5]);
        Assert.IsType<DownSelf>(decisions[15]);
    }

    [Fact]
    public void A_joining_coordinator_does_not_take_over_and_a_join_does_not_restart_stable_after()
    {
        var c2 = new Simulation(C2, Coordinator(C1), Worker(E1), Coordinator(C2, MemberStatus.Joining));
        c2.Tick(At(0));
        c2.Unreachable(C1);
        for (var t = 1; t <= 10; t++) Assert.Same(DowningDecision.Wait, c2.Tick(At(t), applyDowns: false));

        var c1 = new Simulation(C1, Coordinator(C1), Worker(E1));
        c1.Tick(At(0));
        c1.Unreachable(E1);
        c1.Tick(At(1));
        c1.Join(Worker(E2, MemberStatus.Joining));
        c1.Tick(At(3));
        Assert.IsType<DownNodes>(c1.Tick(At(6)));
    }

    [Fact]
    public void With_no_coordinator_left_a_worker_downs_itself()
    {
        var e = new Simulation(E1, Coordinator(C1, MemberStatus.Exiting), Worker(E1));
        var decisions = Enumerable.Range(0, 17).Select(t => e.Tick(At(t))).ToList();
        Assert.All(decisions.Take(15), d => Assert.Same(DowningDecision.Wait, d));
        Assert.Equal("no coordinator is left in the cluster", Assert.IsType<DownSelf>(decisions[15]).Reason);
    }
}
