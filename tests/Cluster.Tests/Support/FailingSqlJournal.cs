using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;

namespace NasCluster.Cluster.Tests.Support;

/// <summary>
/// The real SQL journal (SQLite or PostgreSQL) with one injected failure: the first write that contains an
/// event matching <see cref="FailWhen"/> throws, as a lost connection or a full disk would. Akka.Persistence
/// then stops the writing actor (a journal failure, unlike a rejection, cannot be retried in place).
/// </summary>
public sealed class FailingSqlJournal(Config config) : SqlWriteJournal(config)
{
    public static Func<object, bool>? FailWhen;
    public static int Failures;

    public const string Hocon = """
        akka.persistence.journal.sql.class = "NasCluster.Cluster.Tests.Support.FailingSqlJournal, NasCluster.Cluster.Tests"
        """;

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var list = messages.ToList();
        var rule = FailWhen;
        if (rule is not null && list.SelectMany(w => (IEnumerable<IPersistentRepresentation>)w.Payload).Any(p => rule(p.Payload)))
        {
            FailWhen = null; // once
            Interlocked.Increment(ref Failures);
            return Task.FromException<IImmutableList<Exception>>(new IOException("injected journal failure (the disk went away)"));
        }
        return base.WriteMessagesAsync(list, cancellationToken);
    }
}
