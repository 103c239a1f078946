namespace NasCluster.NodeHosting.Downing;

/// <summary>What a lease attempt came to.</summary>
public enum LeaseOutcome
{
    /// <summary>This owner holds the lease until the time-to-live runs out (taken, or renewed).</summary>
    Held,

    /// <summary>Another owner holds it and its time has not run out.</summary>
    HeldByOther,

    /// <summary>The database could not be asked (down, locked, slow): nothing is known.</summary>
    Unavailable,
}

/// <summary>A lease attempt's answer; <see cref="Holder"/> is the owner that holds it, when known.</summary>
public sealed record LeaseAnswer(LeaseOutcome Outcome, string? Holder = null, string? Error = null);

/// <summary>
/// The referee's lease, kept in the experiment database: the one resource both sides of a partition
/// between coordinators can still ask. The referee renews it while another coordinator could take over; a
/// successor takes it only after it ran out, so a live referee cannot be taken over (docs/cluster.md).
/// Implemented over SQL by the coordinator (<c>NasCluster.Coordinator.Hosting.DatabaseLease</c>) and named
/// in <c>nascluster.downing.lease-class</c>; expiry is measured on the database's clock, not the nodes'.
/// </summary>
public interface ICoordinatorLease : IDisposable
{
    /// <summary>Takes the lease for <paramref name="owner"/>, or renews it, if it is free, ran out, or is already this owner's.</summary>
    Task<LeaseAnswer> TryAcquireAsync(string owner, TimeSpan ttl);
}
