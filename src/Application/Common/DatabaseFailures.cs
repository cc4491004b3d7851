using System.Data.Common;

namespace MeatLizard.Application.Common;

/// <summary>
/// Tells a database failure that may pass (the server restarting, a dropped connection, a busy file) from one that
/// will not (a value or a constraint the database refuses): the first is worth waiting out, the second never is.
/// </summary>
public static class DatabaseFailures
{
    public static bool IsOutage(Exception exception) => exception is DbException db
        && (db.IsTransient
            || db.SqlState is { Length: 5 } state
            && (state.StartsWith("08", StringComparison.Ordinal) // connection exception
                || state.StartsWith("57P", StringComparison.Ordinal) // admin/crash shutdown, cannot connect now
                || state == "53300")); // too many connections

    /// <summary>
    /// A write that lost a race with another transaction on the same rows: a row it refers to was removed meanwhile
    /// (foreign key), or PostgreSQL broke a deadlock or a serialization conflict by failing it. Nothing was stored; the
    /// caller is told the state changed under it (409), not that the server failed.
    /// </summary>
    public static bool IsLostRace(Exception exception) => exception is DbException { SqlState: "23503" or "40P01" or "40001" };
}
