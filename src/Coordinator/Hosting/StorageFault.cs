using Microsoft.Data.Sqlite;
using NasCluster.NodeHosting;

namespace NasCluster.Coordinator.Hosting;

/// <summary>
/// Journal write failures that waiting will not cure: a SQLite file whose disk is full or read-only, or that
/// cannot be written at all. A PostgreSQL server that went away comes back (the registry retries every
/// second); these need the user, so the experiment halts with one line saying what to do, and the
/// journal — SQLite rolls the failed transaction back — stays as it was after the last saved event.
/// </summary>
public static class StorageFault
{
    /// <summary>The line to tell the user, or null when the failure is not one of these.</summary>
    public static string? Describe(Exception cause, DatabaseTarget db, string experiment)
    {
        if (!db.IsSqlite || Find(cause) is not { } e) return null;
        var what = e.SqliteErrorCode switch
        {
            13 => "the disk holding the experiment database is full",
            8 => "the experiment database is read-only (a read-only file or file system)",
            10 => "the experiment database cannot be written (an I/O error: a full or read-only disk?)",
            _ => null,
        };
        return what is null
            ? null
            : $"{what}: {db.Display}. The journal is intact up to the last saved event; make room or make it writable, then `nascluster resume {experiment}`";
    }

    private static SqliteException? Find(Exception? e) => e switch
    {
        null => null,
        SqliteException s => s,
        AggregateException a => a.InnerExceptions.Select(Find).FirstOrDefault(x => x is not null),
        _ => Find(e.InnerException),
    };
}
