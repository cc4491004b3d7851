using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Places shared by every API instance: one sorted set per (scope, key) whose members are lease ids scored by the time
/// (Redis's clock) they run out. Entering drops the leases that ran out, counts the rest and adds one if there is room,
/// all in one script, so instances racing for the last place never both get it. A holder renews its lease every third
/// of <see cref="RateLimitOptions.ConcurrencyLease"/>; an instance that dies stops renewing, and its places free
/// themselves when their leases run out. While Redis is unreachable entering fails open or closed as
/// <see cref="RedisOptions.FailMode"/> says.
/// </summary>
public sealed class RedisConcurrencyLimiter(
    RedisConnection connection,
    IOptionsMonitor<RateLimitOptions> limits,
    IOptions<RedisOptions> options,
    RedisOutages outages,
    ILogger<RedisConcurrencyLimiter> logger) : IConcurrencyLimiter
{
    /// <summary>KEYS[1] = set; ARGV = limit, lease ms, lease id. 1 when entered, 0 when full.</summary>
    internal const string EnterScript = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
          return 0
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
        return 1
        """;

    /// <summary>KEYS[1] = set; ARGV = lease ms, lease id. Extends a lease still held; 0 when it was lost.</summary>
    internal const string RenewScript = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then
          return 0
        end
        redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 1000)
        return 1
        """;

    public async ValueTask<IAsyncDisposable?> TryEnterAsync(
        ConcurrencyScope scope, string key, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (limit <= 0)
        {
            return NoPlace.Instance;
        }

        var set = (RedisKey)$"{connection.KeyPrefix}concurrency:{scope.ToString().ToLowerInvariant()}:{key}";
        var lease = limits.CurrentValue.ConcurrencyLease;
        var leaseId = Guid.NewGuid().ToString("N");
        try
        {
            var database = await connection.GetDatabaseAsync();
            var entered = (long)(await connection.WithinTimeout(database.ScriptEvaluateAsync(EnterScript, [set],
                [limit, (long)lease.TotalMilliseconds, leaseId])));
            return entered == 1 ? new Place(this, set, leaseId, lease) : null;
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            if (options.Value.FailMode == RedisFailMode.Open)
            {
                outages.Record("concurrency", "allowed (fail open)", ex);
                return NoPlace.Instance;
            }

            outages.Record("concurrency", "refused (fail closed)", ex);
            return null;
        }
    }

    private async Task RenewAsync(RedisKey set, string leaseId, TimeSpan lease, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(lease / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    var database = await connection.GetDatabaseAsync();
                    var held = (long)(await connection.WithinTimeout(database.ScriptEvaluateAsync(RenewScript, [set],
                        [(long)lease.TotalMilliseconds, leaseId])));
                    if (held == 0)
                    {
                        // Lost during an outage longer than the lease: the stream stays open, uncounted, rather than
                        // taking a place another may have been given meanwhile.
                        logger.LogWarning("A concurrency lease ran out before it was renewed; it is no longer counted.");
                        return;
                    }
                }
                catch (Exception ex) when (RedisOutages.IsOutage(ex))
                {
                    outages.Record("concurrency", "renewal retried later", ex);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The process is shutting down and closed its connection; the lease runs out by itself.
        }
    }

    private async Task LeaveAsync(RedisKey set, string leaseId)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            await connection.WithinTimeout(database.SortedSetRemoveAsync(set, leaseId));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // The lease runs out by itself.
            outages.Record("concurrency", "release dropped", ex);
        }
    }

    private sealed class Place : IAsyncDisposable
    {
        private readonly RedisConcurrencyLimiter _owner;
        private readonly RedisKey _set;
        private readonly string _leaseId;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _renewing;
        private int _left;

        public Place(RedisConcurrencyLimiter owner, RedisKey set, string leaseId, TimeSpan lease)
        {
            _owner = owner;
            _set = set;
            _leaseId = leaseId;
            _renewing = owner.RenewAsync(set, leaseId, lease, _stop.Token);
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _left, 1) != 0)
            {
                return;
            }

            await _stop.CancelAsync();
            await _renewing;
            _stop.Dispose();
            await _owner.LeaveAsync(_set, _leaseId);
        }
    }
}
