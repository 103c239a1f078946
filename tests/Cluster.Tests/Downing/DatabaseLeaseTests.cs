using NasCluster.Cluster.Tests.Support;
using NasCluster.Coordinator.Hosting;
using NasCluster.NodeHosting;
using NasCluster.NodeHosting.Downing;

namespace NasCluster.Cluster.Tests.Downing;

/// <summary>The referee lease on real databases: one holder at a time, renewals, expiry on the database's clock, and an unreachable database.</summary>
public sealed class DatabaseLeaseTests
{
    [Theory]
    [InlineData("sqlite")]
    [PostgresData]
    public async Task One_owner_holds_the_lease_renews_it_and_another_takes_it_only_after_it_ran_out(string backend)
    {
        using var db = new TestDatabase(backend);
        using var first = new DatabaseLease(db.Target);
        using var second = new DatabaseLease(db.Target);
        var ttl = TimeSpan.FromSeconds(2);

        Assert.Equal(LeaseOutcome.Held, (await first.TryAcquireAsync("c1#1", ttl)).Outcome);
        var refused = await second.TryAcquireAsync("c2#2", ttl);
        Assert.Equal((LeaseOutcome.HeldByOther, "c1#1"), (refused.Outcome, refused.Holder));
        Assert.Equal(LeaseOutcome.Held, (await first.TryAcquireAsync("c1#1", ttl)).Outcome); // a renewal
        Assert.Equal(LeaseOutcome.HeldByOther, (await second.TryAcquireAsync("c2#2", ttl)).Outcome);

        // c1 stops renewing (it died): c2 gets the lease once its time ran out, not before.
        var lastRenewal = DateTime.UtcNow;
        LeaseAnswer taken = refused;
        await Nodes.Until(() => (taken = second.TryAcquireAsync("c2#2", ttl).Result).Outcome == LeaseOutcome.Held, TimeSpan.FromSeconds(20), "c2 takes the lease");
        Assert.True(DateTime.UtcNow - lastRenewal >= ttl - TimeSpan.FromMilliseconds(200), $"taken after {(DateTime.UtcNow - lastRenewal).TotalMilliseconds} ms");
        var late = await first.TryAcquireAsync("c1#1", ttl); // the old holder, back: refused, and told who holds it
        Assert.Equal((LeaseOutcome.HeldByOther, "c2#2"), (late.Outcome, late.Holder));
    }

    [Fact]
    public async Task A_database_that_cannot_be_asked_is_unavailable_not_an_answer()
    {
        using var unreachable = new DatabaseLease(NodeConfig.ParseDb("postgres://nas:pw@127.0.0.1:1/nas"));
        var answer = await unreachable.TryAcquireAsync("c1#1", TimeSpan.FromSeconds(5));
        Assert.Equal(LeaseOutcome.Unavailable, answer.Outcome);
        Assert.False(string.IsNullOrEmpty(answer.Error));

        using var dir = new TestDatabase("sqlite");
        using var missing = new DatabaseLease(NodeConfig.ParseDb(Path.Combine(dir.Directory, "no-such-dir", "x.db")));
        Assert.Equal(LeaseOutcome.Unavailable, (await missing.TryAcquireAsync("c1#1", TimeSpan.FromSeconds(5))).Outcome);
    }
}
