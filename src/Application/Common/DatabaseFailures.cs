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

    /// <summary>
    /// Runs <paramref name="work"/>, and again with growing pauses (from 250 ms, at most 5 s apart) while it fails with
    /// a failure that may pass (<see cref="IsOutage"/>), for up to <paramref name="limit"/>; <paramref name="retrying"/>
    /// is told of each pause. Any other failure, or the last one, is thrown.
    /// </summary>
    public static async Task ThroughOutagesAsync(Func<Task> work, TimeSpan limit, CancellationToken cancellationToken,
        Action<Exception, TimeSpan>? retrying = null)
    {
        ArgumentNullException.ThrowIfNull(work);
        var pause = TimeSpan.FromMilliseconds(250);
        var waited = TimeSpan.Zero;
        while (true)
        {
            try
            {
                await work();
                return;
            }
            catch (Exception ex) when (IsOutage(ex) && waited + pause <= limit && !cancellationToken.IsCancellationRequested)
            {
                retrying?.Invoke(ex, pause);
                await Task.Delay(pause, cancellationToken);
                waited += pause;
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxOutagePause.Ticks));
            }
        }
    }

    private static readonly TimeSpan MaxOutagePause = TimeSpan.FromSeconds(5);
}
