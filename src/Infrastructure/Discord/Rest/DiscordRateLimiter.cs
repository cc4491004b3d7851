using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;

namespace MeatLizard.Infrastructure.Discord.Rest;

/// <summary>
/// One REST route as Discord limits it: the method and path template plus the major parameter (channel, guild,
/// webhook or interaction id) the bucket is split by, and the concrete path to call.
/// </summary>
public sealed record DiscordRoute(HttpMethod Method, string Template, string MajorId, string Path, bool CountsAgainstGlobal = true)
{
    public string Key => $"{Method.Method} {Template}:{MajorId}";

    public override string ToString() => $"{Method.Method} {Template}";
}

/// <summary>
/// Client-side rate limiting driven only by Discord's response headers (no hard-coded per-route numbers).
/// Routes map to the bucket Discord names in <c>X-RateLimit-Bucket</c>, split by the major parameter; until the
/// first answer names it, the route is its own bucket. Requests on one bucket go one at a time, so an exhausted
/// bucket never has more than one request in flight, and a request waits for the bucket's reset once it has none
/// left. A global window keeps to Discord's 50 requests per second (interaction callbacks excluded), served first come,
/// first served when full, and a global 429 pauses every request for its <c>retry_after</c>.
/// </summary>
public sealed class DiscordRateLimiter(TimeProvider time, int globalPerSecond = 50)
{
    private static readonly TimeSpan s_invalidWindow = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan s_resetMargin = TimeSpan.FromMilliseconds(50);

    private readonly ConcurrentDictionary<string, string> _routeToBucket = new();
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new();
    private readonly Queue<DateTimeOffset> _globalWindow = new();
    private readonly Queue<DateTimeOffset> _invalid = new();
    private readonly Lock _globalLock = new();
    private readonly SemaphoreSlim _globalTurn = new(1, 1);
    private DateTimeOffset _globalBlockedUntil = DateTimeOffset.MinValue;

    /// <summary>401, 403 and 429 answers in the last ten minutes (Discord bans an IP at 10,000).</summary>
    public int InvalidRequestsInWindow
    {
        get
        {
            lock (_invalid)
            {
                Trim(_invalid, time.GetUtcNow() - s_invalidWindow);
                return _invalid.Count;
            }
        }
    }

    /// <summary>How many 429 answers were received in total.</summary>
    public int RateLimitedCount => _rateLimited;

    private int _rateLimited;

    public async ValueTask<Lease> AcquireAsync(DiscordRoute route, CancellationToken cancellationToken)
    {
        while (true)
        {
            var bucket = BucketFor(route);
            await bucket.Gate.WaitAsync(cancellationToken);
            if (!ReferenceEquals(bucket, BucketFor(route)))
            {
                // The answer of the request ahead of us named the real bucket: queue there instead.
                bucket.Gate.Release();
                continue;
            }

            try
            {
                await bucket.WaitForCapacityAsync(time, cancellationToken);
                await WaitGlobalAsync(route.CountsAgainstGlobal, cancellationToken);
            }
            catch
            {
                bucket.Gate.Release();
                throw;
            }

            return new Lease(this, route, bucket);
        }
    }

    /// <summary>How long until the route's bucket has capacity again (zero when it has some now).</summary>
    public TimeSpan DelayFor(DiscordRoute route) => BucketFor(route).Delay(time.GetUtcNow());

    private Bucket BucketFor(DiscordRoute route) =>
        _routeToBucket.TryGetValue(route.Key, out var hash)
            ? _buckets.GetOrAdd($"{hash}:{route.MajorId}", _ => new Bucket())
            : _buckets.GetOrAdd($"route:{route.Key}", _ => new Bucket());

    private async ValueTask WaitGlobalAsync(bool counts, CancellationToken cancellationToken)
    {
        if (!counts)
        {
            await WaitForGlobalTurnAsync(false, cancellationToken);
            return;
        }

        // Counted requests take the window one at a time, in the order they came (SemaphoreSlim hands itself to its
        // async waiters first come, first served): while the window is full, each waits its turn, so none — a host's
        // heartbeat behind the pieces of many answers — is passed over again and again by requests that came after it.
        await _globalTurn.WaitAsync(cancellationToken);
        try
        {
            await WaitForGlobalTurnAsync(true, cancellationToken);
        }
        finally
        {
            _globalTurn.Release();
        }
    }

    /// <summary>Waits out a global 429's pause and, for a request that <paramref name="counts"/>, a full window; then counts it.</summary>
    private async ValueTask WaitForGlobalTurnAsync(bool counts, CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_globalLock)
            {
                var now = time.GetUtcNow();
                wait = _globalBlockedUntil > now ? _globalBlockedUntil - now : TimeSpan.Zero;
                if (wait == TimeSpan.Zero && counts)
                {
                    Trim(_globalWindow, now - TimeSpan.FromSeconds(1));
                    if (_globalWindow.Count >= globalPerSecond)
                    {
                        wait = _globalWindow.Peek() + TimeSpan.FromSeconds(1) - now;
                    }
                    else
                    {
                        _globalWindow.Enqueue(now);
                        return;
                    }
                }
                else if (wait == TimeSpan.Zero)
                {
                    return;
                }
            }

            await Task.Delay(wait, time, cancellationToken);
        }
    }

    private void Complete(DiscordRoute route, Bucket bucket, HttpResponseMessage response, TimeSpan? retryAfter, bool global)
    {
        var now = time.GetUtcNow();
        var status = (int)response.StatusCode;
        if (status is 401 or 403 or 429)
        {
            lock (_invalid)
            {
                _invalid.Enqueue(now);
            }
        }

        var target = bucket;
        if (Header(response.Headers, "X-RateLimit-Bucket") is { Length: > 0 } hash)
        {
            _routeToBucket[route.Key] = hash;
            target = _buckets.GetOrAdd($"{hash}:{route.MajorId}", _ => new Bucket());
        }

        var remaining = HeaderNumber(response.Headers, "X-RateLimit-Remaining");
        var resetAfter = HeaderNumber(response.Headers, "X-RateLimit-Reset-After");
        if (remaining is { } r && resetAfter is { } after)
        {
            // A little past the reset, so timer and clock resolution never land us a moment early.
            target.Set((int)r, now + TimeSpan.FromSeconds(after) + s_resetMargin);
        }

        if (status == 429)
        {
            Interlocked.Increment(ref _rateLimited);
            var pause = retryAfter ?? TimeSpan.FromSeconds(1);
            if (global)
            {
                lock (_globalLock)
                {
                    var until = now + pause;
                    if (until > _globalBlockedUntil)
                    {
                        _globalBlockedUntil = until;
                    }
                }
            }
            else
            {
                target.Set(0, now + pause);
            }
        }
    }

    private static void Trim(Queue<DateTimeOffset> queue, DateTimeOffset before)
    {
        while (queue.Count > 0 && queue.Peek() <= before)
        {
            queue.Dequeue();
        }
    }

    private static string? Header(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static double? HeaderNumber(HttpResponseHeaders headers, string name) =>
        double.TryParse(Header(headers, name), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>A permit to send one request; completing it (or abandoning it) lets the next one on the bucket go.</summary>
    public sealed class Lease(DiscordRateLimiter limiter, DiscordRoute route, Bucket bucket)
    {
        private int _done;

        /// <summary>Learns from the answer's headers (and a 429's retry_after), then releases the bucket.</summary>
        public void Complete(HttpResponseMessage response, TimeSpan? retryAfter = null, bool global = false)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                try
                {
                    limiter.Complete(route, bucket, response, retryAfter, global);
                }
                finally
                {
                    bucket.Gate.Release();
                }
            }
        }

        /// <summary>Releases the bucket without an answer (the request failed before one arrived).</summary>
        public void Abandon()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                bucket.Gate.Release();
            }
        }
    }

    /// <summary>One bucket's state as the last answer told it.</summary>
    public sealed class Bucket
    {
        private readonly Lock _lock = new();
        private int _remaining = -1;
        private DateTimeOffset _resetAt = DateTimeOffset.MinValue;

        internal SemaphoreSlim Gate { get; } = new(1, 1);

        internal void Set(int remaining, DateTimeOffset resetAt)
        {
            lock (_lock)
            {
                _remaining = remaining;
                _resetAt = resetAt;
            }
        }

        internal TimeSpan Delay(DateTimeOffset now)
        {
            lock (_lock)
            {
                return _remaining == 0 && _resetAt > now ? _resetAt - now : TimeSpan.Zero;
            }
        }

        internal async ValueTask WaitForCapacityAsync(TimeProvider time, CancellationToken cancellationToken)
        {
            var wait = Delay(time.GetUtcNow());
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken);
            }

            lock (_lock)
            {
                if (_remaining == 0 && _resetAt <= time.GetUtcNow())
                {
                    _remaining = -1;
                }
                else if (_remaining > 0)
                {
                    _remaining--;
                }
            }
        }
    }
}
