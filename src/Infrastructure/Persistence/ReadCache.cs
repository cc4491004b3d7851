using MeatLizard.Application.Common;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// Rows read from the database, by key, for this process: bounded (<see cref="UserCacheOptions.Capacity"/>) and
/// expiring (<see cref="UserCacheOptions.Lifetime"/>). A read that overlapped an invalidation does not keep what it
/// read: it may predate the write. Serves and keeps nothing while <paramref name="mayServe"/> says writes elsewhere
/// might go unheard. The rows are immutable, so what is handed out cannot change what is kept.
/// </summary>
internal sealed class ReadCache<TKey, TRow>(UserCacheOptions options, Func<bool> mayServe, TimeProvider clock)
    where TKey : notnull
    where TRow : class
{
    private readonly CountedMap<TKey, Entry> _entries = new();
    private long _generation;

    /// <summary>Rows held now, expired ones included until they are swept.</summary>
    public int Count => _entries.Count;

    public bool TryGet(TKey key, out TRow row)
    {
        if (_entries.TryGetValue(key, out var entry) && clock.GetUtcNow() < entry.ExpiresAt && mayServe())
        {
            row = entry.Row;
            return true;
        }

        row = null!;
        return false;
    }

    /// <summary>Taken before reading the database; <see cref="Keep"/> needs it to tell whether a write came between.</summary>
    public long BeginRead() => Interlocked.Read(ref _generation);

    /// <summary>Keeps a row read since <paramref name="readStarted"/>, unless a write may have come meanwhile.</summary>
    public void Keep(long readStarted, TKey key, TRow row)
    {
        if (Interlocked.Read(ref _generation) != readStarted || !mayServe() || !HasRoom())
        {
            return;
        }

        var entry = new Entry(row, clock.GetUtcNow() + options.Lifetime);
        _entries[key] = entry;

        // An invalidation between the check above and the store: it may have missed this entry, so take it out.
        if (Interlocked.Read(ref _generation) != readStarted)
        {
            _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        }
    }

    public void Drop(TKey key)
    {
        // The generation moves before the row goes, so a read that stores after this sees it moved.
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(key, out _);
    }

    /// <summary>Drops every row <paramref name="matches"/> picks (a scan: for writes that are rare).</summary>
    public void DropWhere(Func<TRow, bool> matches)
    {
        Interlocked.Increment(ref _generation);
        foreach (var (key, entry) in _entries)
        {
            if (matches(entry.Row))
            {
                _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
            }
        }
    }

    public void DropAll()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    private bool HasRoom()
    {
        if (_entries.Count < options.Capacity)
        {
            return true;
        }

        var now = clock.GetUtcNow();
        foreach (var (key, entry) in _entries)
        {
            if (now >= entry.ExpiresAt)
            {
                _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
            }
        }

        return _entries.Count < options.Capacity;
    }

    private sealed record Entry(TRow Row, DateTimeOffset ExpiresAt);
}
