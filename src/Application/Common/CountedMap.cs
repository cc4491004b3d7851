using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace MeatLizard.Application.Common;

/// <summary>
/// A concurrent map for the process's bounded memories (chats known, requests stored, tokens opened, …), whose
/// <see cref="Count"/> is read without a lock. <see cref="ConcurrentDictionary{TKey,TValue}.Count"/> takes every one
/// of the dictionary's locks, whose number doubles as it grows (1,024 once it holds a few thousand entries), and these
/// memories read their count at every entry kept to check their bound: in the <c>/v1</c> window of
/// <c>bench/openai.sh --part 2</c> that took 1.3 % of the process for the chats known alone.
/// <para>
/// The count is kept beside the map: exact while no <see cref="Clear"/> runs at the same time as a write; a write that
/// races a clear may leave it off by one until the next clear. Good for a bound, which is all it is used for.
/// </para>
/// </summary>
public sealed class CountedMap<TKey, TValue>(IEqualityComparer<TKey>? comparer = null)
    : IEnumerable<KeyValuePair<TKey, TValue>>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TValue> _map = new(comparer);
    private int _count;

    /// <summary>How many entries the map holds (see the class for the one way it can be off).</summary>
    public int Count => Math.Max(0, Volatile.Read(ref _count));

    /// <summary>Reads an entry (throws when there is none, as a dictionary does), or adds or replaces one.</summary>
    public TValue this[TKey key]
    {
        get => _map[key];
        set
        {
            while (!TryAdd(key, value))
            {
                // Replaced only as it was just read: an entry removed meanwhile is added again, and counted.
                if (_map.TryGetValue(key, out var current) && _map.TryUpdate(key, value, current))
                {
                    return;
                }
            }
        }
    }

    public bool TryGetValue(TKey key, [MaybeNullWhen(false)] out TValue value) => _map.TryGetValue(key, out value);

    public bool ContainsKey(TKey key) => _map.ContainsKey(key);

    public TValue? GetValueOrDefault(TKey key) => _map.GetValueOrDefault(key);

    public bool TryAdd(TKey key, TValue value)
    {
        if (!_map.TryAdd(key, value))
        {
            return false;
        }

        Interlocked.Increment(ref _count);
        return true;
    }

    public bool TryRemove(TKey key, [MaybeNullWhen(false)] out TValue value)
    {
        if (!_map.TryRemove(key, out value))
        {
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>Removes the entry only while it still holds <paramref name="entry"/>'s value.</summary>
    public bool TryRemove(KeyValuePair<TKey, TValue> entry)
    {
        if (!_map.TryRemove(entry))
        {
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }

    public void Clear()
    {
        _map.Clear();
        Interlocked.Exchange(ref _count, 0);
    }

    /// <summary>The entries as a <see cref="ConcurrentDictionary{TKey,TValue}"/> enumerates them: without locks.</summary>
    public IEnumerator<KeyValuePair<TKey, TValue>> GetEnumerator() => _map.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
