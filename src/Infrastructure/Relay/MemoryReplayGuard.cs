using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// Replay memory for one process. Entries expire after their TTL (measured on <see cref="IClock"/>); expired ones
/// are swept in the background every <see cref="SweepInterval"/>, and when the guard is full (at most once a second).
/// Memory is bounded by <c>capacity</c>: while that many live keys are held, new keys are refused (fail closed, so a
/// replay is never let through) until some expire.
/// </summary>
public sealed partial class MemoryReplayGuard(IClock clock, ILogger<MemoryReplayGuard> logger, int capacity)
    : IReplayGuard
{
    /// <summary>About 160 bytes an entry, so roughly 160 MB at most; ~1,600 envelopes/s for a 10-minute TTL.</summary>
    public const int DefaultCapacity = 1_000_000;

    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, long> _expiries = new(StringComparer.Ordinal);
    private readonly Lock _sweepLock = new();
    private readonly int _capacity = capacity > 0
        ? capacity
        : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity must be positive.");

    private int _count;
    private long _nextSweepTicks = clock.UtcNow.UtcTicks + SweepInterval.Ticks;
    private long _lastSweepTicks;
    private int _sweepQueued;

    public MemoryReplayGuard(IClock clock, ILogger<MemoryReplayGuard> logger)
        : this(clock, logger, DefaultCapacity)
    {
    }

    /// <summary>How many keys are held (expired ones count until they are swept).</summary>
    public int Count => Volatile.Read(ref _count);

    public ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(TryRegister(key, ttl));
    }

    public ValueTask<bool> WasSeenAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_expiries.TryGetValue(key, out var seenUntil) && seenUntil > clock.UtcNow.UtcTicks);
    }

    /// <summary>Removes expired entries; returns how many.</summary>
    internal int SweepExpired()
    {
        var now = clock.UtcNow.UtcTicks;
        var removed = 0;
        lock (_sweepLock)
        {
            Volatile.Write(ref _nextSweepTicks, now + SweepInterval.Ticks);
            Volatile.Write(ref _lastSweepTicks, now);
            foreach (var entry in _expiries)
            {
                // Remove only the value seen, so an entry renewed meanwhile stays.
                if (entry.Value <= now && _expiries.TryRemove(entry))
                {
                    Interlocked.Decrement(ref _count);
                    removed++;
                }
            }
        }

        return removed;
    }

    private bool TryRegister(string key, TimeSpan ttl)
    {
        var now = clock.UtcNow.UtcTicks;
        var expires = now + Math.Max(ttl.Ticks, 0);
        if (now >= Volatile.Read(ref _nextSweepTicks))
        {
            QueueSweep();
        }

        while (true)
        {
            if (_expiries.TryGetValue(key, out var seenUntil))
            {
                if (seenUntil > now)
                {
                    return false;
                }

                if (_expiries.TryUpdate(key, expires, seenUntil))
                {
                    return true;
                }

                continue; // someone else renewed or swept it; look again
            }

            if (Volatile.Read(ref _count) >= _capacity && !MakeRoom(now))
            {
                return false;
            }

            if (_expiries.TryAdd(key, expires))
            {
                Interlocked.Increment(ref _count);
                return true;
            }
        }
    }

    /// <summary>Sweeps when full, at most once a second so a full guard does not scan on every call.</summary>
    private bool MakeRoom(long now)
    {
        if (now - Volatile.Read(ref _lastSweepTicks) >= TimeSpan.TicksPerSecond)
        {
            SweepExpired();
            if (Volatile.Read(ref _count) >= _capacity)
            {
                LogFull(logger, _capacity);
            }
        }
        else
        {
            // A sweep started less than a second ago may still be running (in the background, on a busy machine):
            // the room it makes is waited for, not refused.
            lock (_sweepLock)
            {
                _ = Volatile.Read(ref _lastSweepTicks);
            }
        }

        return Volatile.Read(ref _count) < _capacity;
    }

    private void QueueSweep()
    {
        if (Interlocked.Exchange(ref _sweepQueued, 1) == 1)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static guard =>
        {
            try
            {
                guard.SweepExpired();
            }
            finally
            {
                Volatile.Write(ref guard._sweepQueued, 0);
            }
        }, this, preferLocal: false);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The relay replay guard holds {Capacity} live keys; new envelopes are refused until some expire")]
    private static partial void LogFull(ILogger logger, int capacity);
}
