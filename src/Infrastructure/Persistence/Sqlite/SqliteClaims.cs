using System.Collections.Concurrent;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// The dispatchers' claims on pending requests, on SQLite: held in this process, not written. A SQLite database is used
/// by one process (its dispatchers, or several hosts of one test process, share one set per database file), so the
/// claim's own write transaction — an UPDATE and its commit, about a tenth of a /v1 completion's CPU (issue 35) — bought
/// nothing another process could see. A claim ends when the request's state is written (dispatched, ended, put back),
/// when it is given back, or when its lease runs out; a process that dies takes its claims with it, so they never
/// outlive it. Sending twice stays impossible without them: a batch is stored only where its requests are still pending.
/// Leases written by an earlier build (<c>claimed_until</c>) are still honoured until they run out.
/// </summary>
internal sealed class SqliteClaims
{
    private static readonly ConcurrentDictionary<string, SqliteClaims> ByDatabase = new(StringComparer.Ordinal);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Claim> _held = new(StringComparer.Ordinal);

    /// <summary>The claims on the database at <paramref name="database"/> (its file name, as the connection names it).</summary>
    public static SqliteClaims Of(string database) => ByDatabase.GetOrAdd(database, static _ => new SqliteClaims());

    /// <summary>One claim at a time: what a claim reads as claimable is marked before the next claim reads.</summary>
    public SemaphoreSlim Turn { get; } = new(1, 1);

    /// <summary>The requests (their ids as stored) under a lease still running at <paramref name="now"/> (ms), as a JSON array.</summary>
    public string HeldAt(long now)
    {
        lock (_lock)
        {
            if (_held.Count > 0)
            {
                RemoveWhere(c => c.Until <= now);
            }

            return _held.Count == 0 ? "[]" : System.Text.Json.JsonSerializer.Serialize(_held.Keys);
        }
    }

    public void Take(IEnumerable<string> ids, string claimer, long until)
    {
        lock (_lock)
        {
            foreach (var id in ids)
            {
                _held[id] = new Claim(claimer, until);
            }
        }
    }

    /// <summary>Ends the claims on <paramref name="ids"/> (those not claimed are passed over).</summary>
    public void End(params ReadOnlySpan<string> ids)
    {
        lock (_lock)
        {
            foreach (var id in ids)
            {
                _held.Remove(id);
            }
        }
    }

    /// <summary>Ends every claim <paramref name="claimer"/> holds; how many it held.</summary>
    public int EndAllOf(string claimer)
    {
        lock (_lock)
        {
            return RemoveWhere(c => c.Claimer == claimer);
        }
    }

    /// <summary>Each claimer's earliest lease still running at <paramref name="now"/> (ms).</summary>
    public IReadOnlyList<(string Claimer, long RunsOutAt)> ClaimersAt(long now)
    {
        lock (_lock)
        {
            return [.. _held.Values.Where(c => c.Until > now).GroupBy(c => c.Claimer, StringComparer.Ordinal)
                .Select(g => (g.Key, g.Min(c => c.Until)))];
        }
    }

    /// <summary>Removes the claims <paramref name="ending"/> picks; how many. The caller holds the lock.</summary>
    private int RemoveWhere(Func<Claim, bool> ending)
    {
        var ended = _held.Where(c => ending(c.Value)).Select(c => c.Key).ToList();
        foreach (var id in ended)
        {
            _held.Remove(id);
        }

        return ended.Count;
    }

    private readonly record struct Claim(string Claimer, long Until);
}
