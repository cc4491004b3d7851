using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Memory;

/// <summary>
/// Token buckets per (scope, key) held in this process. A bucket holds at most the burst size (at least 1) and refills
/// continuously at the per-minute rate, both from <see cref="IRateLimitSettings"/> (configuration, with the rates the
/// admins set). A per-minute rate of 0 or less means "unlimited" for that scope: every call is allowed and no bucket
/// is kept. Limits are read on every call, so changes apply at once. Buckets that have refilled completely and stayed
/// idle are evicted (a full bucket is the same as a new one), so memory does not grow with every key ever seen.
/// A token given back goes into the bucket if it is still held and not full.
/// </summary>
public sealed class MemoryRateLimiter(IRateLimitSettings limits, IClock clock) : IRateLimiter
{
    /// <summary>How long a bucket must be untouched before a sweep may evict it (once it is full).</summary>
    internal static readonly TimeSpan IdleBeforeEviction = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(RateLimitScope Scope, string Key), Bucket> _buckets = new();
    private readonly Lock _sweepLock = new();
    private long _lastSweepTicks = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>How many buckets are held; for tests of eviction.</summary>
    internal int BucketCount => _buckets.Count;

    public async ValueTask<RateLimitDecision> TryAcquireAsync(
        RateLimitScope scope, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();

        var (perMinute, burst) = await limits.GetAsync(scope, cancellationToken);

        var now = clock.UtcNow;
        if (now.UtcTicks - Volatile.Read(ref _lastSweepTicks) >= SweepInterval.Ticks)
        {
            var all = new Dictionary<RateLimitScope, RateLimit>();
            foreach (var each in Enum.GetValues<RateLimitScope>())
            {
                all[each] = await limits.GetAsync(each, cancellationToken);
            }

            SweepIfDue(now, all);
        }

        if (perMinute <= 0)
        {
            return RateLimitDecision.Allow;
        }

        var capacity = Math.Max(burst, 1);
        while (true)
        {
            var bucket = _buckets.GetOrAdd((scope, key), static (_, state) => new Bucket(state.capacity, state.now), (capacity, now));
            lock (bucket.Gate)
            {
                // A sweep may have evicted this bucket after we looked it up; take the one that replaced it.
                if (bucket.Evicted)
                {
                    continue;
                }

                bucket.Refill(now, capacity, perMinute);
                bucket.LastUsed = now;
                if (bucket.Tokens >= 1)
                {
                    bucket.Tokens -= 1;
                    return RateLimitDecision.Allow;
                }

                var ticks = Math.Ceiling((1 - bucket.Tokens) * TimeSpan.TicksPerMinute / perMinute);
                return new RateLimitDecision(false, TimeSpan.FromTicks((long)ticks));
            }
        }
    }

    public async ValueTask GiveBackAsync(RateLimitScope scope, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();

        var (perMinute, burst) = await limits.GetAsync(scope, cancellationToken);
        if (perMinute <= 0)
        {
            return;
        }

        var now = clock.UtcNow;
        var capacity = Math.Max(burst, 1);

        // No bucket means a full one: there is nothing to give back to.
        while (_buckets.TryGetValue((scope, key), out var bucket))
        {
            lock (bucket.Gate)
            {
                // A sweep may have evicted this bucket after we looked it up; give back to the one that replaced it.
                if (bucket.Evicted)
                {
                    continue;
                }

                bucket.Refill(now, capacity, perMinute);
                bucket.Tokens = Math.Min(bucket.Tokens + 1, capacity);
                return;
            }
        }
    }

    private void SweepIfDue(DateTimeOffset now, IReadOnlyDictionary<RateLimitScope, RateLimit> limits)
    {
        if (now.UtcTicks - Volatile.Read(ref _lastSweepTicks) < SweepInterval.Ticks || !_sweepLock.TryEnter())
        {
            return;
        }

        try
        {
            if (now.UtcTicks - _lastSweepTicks < SweepInterval.Ticks)
            {
                return;
            }

            Volatile.Write(ref _lastSweepTicks, now.UtcTicks);
            foreach (var (id, bucket) in _buckets)
            {
                var (perMinute, burst) = limits[id.Scope];
                lock (bucket.Gate)
                {
                    var unlimited = perMinute <= 0;
                    if (!unlimited)
                    {
                        if (now - bucket.LastUsed < IdleBeforeEviction)
                        {
                            continue;
                        }

                        bucket.Refill(now, Math.Max(burst, 1), perMinute);
                        if (bucket.Tokens < Math.Max(burst, 1))
                        {
                            continue;
                        }
                    }

                    bucket.Evicted = true;
                    _buckets.TryRemove(new KeyValuePair<(RateLimitScope, string), Bucket>(id, bucket));
                }
            }
        }
        finally
        {
            _sweepLock.Exit();
        }
    }

    private sealed class Bucket(int capacity, DateTimeOffset now)
    {
        public Lock Gate { get; } = new();

        public double Tokens { get; set; } = capacity;

        public DateTimeOffset LastRefill { get; private set; } = now;

        public DateTimeOffset LastUsed { get; set; } = now;

        public bool Evicted { get; set; }

        public void Refill(DateTimeOffset now, int capacity, int perMinute)
        {
            // A clock that steps back adds nothing; it must not take tokens away either.
            if (now > LastRefill)
            {
                Tokens += (now - LastRefill).Ticks * (double)perMinute / TimeSpan.TicksPerMinute;
                LastRefill = now;
            }

            // A burst lowered at run time caps what was saved up.
            Tokens = Math.Min(Tokens, capacity);
        }
    }
}
