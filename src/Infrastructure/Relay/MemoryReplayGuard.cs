using System.Security.Cryptography;
using System.Text;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// Replay memory for one process. Entries expire after their TTL (measured on <see cref="IClock"/>); expired ones are
/// swept every <see cref="SweepInterval"/> by the registration that finds the time come, and when the guard is full.
/// Memory is bounded by <c>capacity</c>: while that many live keys are held, new keys are refused (fail closed, so a
/// replay is never let through) until some expire.
/// <para>
/// It holds every envelope of the last two freshness windows (ten minutes by default: at 300 <c>/v1</c> completions a
/// second, about a million keys), so it is held in a form the garbage collector never has to look into: a key is kept
/// as the first 16 bytes of its SHA-256 (two keys sharing them would take billions of billions of keys) in a dictionary
/// of plain values, and the keys are listed for the sweep by the second they expire in, in arrays of plain values. Kept
/// as strings in a <c>ConcurrentDictionary</c>, each key was two objects that lived through every young-generation
/// collection into the oldest: in the <c>/v1</c> benchmark a young collection paused 11–16 ms after a minute of load
/// (1–3 MB promoted each time), and the collections' pauses took about twice as long per window as with this form
/// (README, issue 35, session 73).
/// </para>
/// </summary>
public sealed partial class MemoryReplayGuard(IClock clock, ILogger<MemoryReplayGuard> logger, int capacity)
    : IReplayGuard
{
    /// <summary>About 50 bytes an entry, so roughly 50 MB at most; ~1,600 envelopes/s for a 10-minute TTL.</summary>
    public const int DefaultCapacity = 1_000_000;

    /// <summary>How often expired keys are swept: each sweep has only what expired since the one before to remove.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();

    /// <summary>Each key's hash and when it expires (UTC ticks).</summary>
    private readonly Dictionary<UInt128, long> _expiries = [];

    /// <summary>The keys registered to expire in each second (by its number since 0001-01-01), for the sweep.</summary>
    private readonly SortedDictionary<long, List<UInt128>> _expiringIn = [];

    private readonly int _capacity = capacity > 0
        ? capacity
        : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity must be positive.");

    private long _nextSweepTicks = clock.UtcNow.UtcTicks + SweepInterval.Ticks;
    private long _lastFullLoggedTicks = long.MinValue;

    public MemoryReplayGuard(IClock clock, ILogger<MemoryReplayGuard> logger)
        : this(clock, logger, DefaultCapacity)
    {
    }

    /// <summary>How many keys are held (expired ones count until they are swept).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _expiries.Count;
            }
        }
    }

    public ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(TryRegister(Hash(key), ttl));
    }

    public ValueTask<bool> WasSeenAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var hash = Hash(key);
        lock (_lock)
        {
            return ValueTask.FromResult(_expiries.TryGetValue(hash, out var seenUntil) && seenUntil > clock.UtcNow.UtcTicks);
        }
    }

    /// <summary>Removes expired entries; returns how many.</summary>
    internal int SweepExpired()
    {
        lock (_lock)
        {
            return SweepLocked(clock.UtcNow.UtcTicks);
        }
    }

    private bool TryRegister(UInt128 hash, TimeSpan ttl)
    {
        lock (_lock)
        {
            var now = clock.UtcNow.UtcTicks;
            if (now >= _nextSweepTicks)
            {
                SweepLocked(now);
            }

            var known = _expiries.TryGetValue(hash, out var seenUntil);
            if (known && seenUntil > now)
            {
                return false;
            }

            if (!known && _expiries.Count >= _capacity && !MakeRoom(now))
            {
                return false;
            }

            // A key registered again after it expired keeps its old place in the sweep's lists too: the sweep finds it
            // renewed there and leaves it.
            var expires = now + Math.Max(ttl.Ticks, 0);
            _expiries[hash] = expires;
            var second = expires / TimeSpan.TicksPerSecond;
            if (!_expiringIn.TryGetValue(second, out var keys))
            {
                _expiringIn[second] = keys = [];
            }

            keys.Add(hash);
            return true;
        }
    }

    /// <summary>Sweeps a full guard; refuses (logging it at most once a second) while it is still full.</summary>
    private bool MakeRoom(long now)
    {
        SweepLocked(now);
        if (_expiries.Count < _capacity)
        {
            return true;
        }

        if (now - _lastFullLoggedTicks >= TimeSpan.TicksPerSecond)
        {
            _lastFullLoggedTicks = now;
            LogFull(logger, _capacity);
        }

        return false;
    }

    /// <summary>Removes the keys expired by <paramref name="now"/>: those listed in the seconds up to it.</summary>
    private int SweepLocked(long now)
    {
        _nextSweepTicks = now + SweepInterval.Ticks;
        var removed = 0;
        while (_expiringIn.Count > 0)
        {
            var (second, keys) = _expiringIn.First();
            if (second * TimeSpan.TicksPerSecond > now)
            {
                break; // nothing listed from here on has expired
            }

            List<UInt128>? leftInSecond = null; // made only for the second in which the sweep stops
            foreach (var hash in keys)
            {
                if (!_expiries.TryGetValue(hash, out var expires) || expires / TimeSpan.TicksPerSecond != second)
                {
                    continue; // renewed since (listed again in a later second), or removed already
                }

                if (expires <= now)
                {
                    _expiries.Remove(hash);
                    removed++;
                }
                else
                {
                    (leftInSecond ??= []).Add(hash); // expires later in this very second
                }
            }

            if (leftInSecond is not null)
            {
                _expiringIn[second] = leftInSecond;
                break;
            }

            _expiringIn.Remove(second);
        }

        return removed;
    }

    /// <summary>The first 16 bytes of the key's SHA-256, as the key is held.</summary>
    private static UInt128 Hash(string key)
    {
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        var bytes = length <= 512 ? stackalloc byte[length] : new byte[length];
        var written = Encoding.UTF8.GetBytes(key, bytes);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..written], digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The relay replay guard holds {Capacity} live keys; new envelopes are refused until some expire")]
    private static partial void LogFull(ILogger logger, int capacity);
}
