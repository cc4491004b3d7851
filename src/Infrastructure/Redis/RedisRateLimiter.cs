using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Token buckets shared by every API instance: one hash per (scope, key) in Redis, checked and updated by one Lua
/// script, so concurrent checks from any number of instances never hand out more than the bucket holds. The script
/// reads Redis's own clock, so instances with skewed clocks still agree. A bucket holds at most the burst and refills
/// continuously at the per-minute rate; it expires once it would be full again (a full bucket equals no bucket).
/// Limits come from <see cref="IRateLimitSettings"/> on every call. While Redis is unreachable the check fails open
/// or closed as <see cref="RedisOptions.FailMode"/> says, and is recorded by <see cref="RedisOutages"/>; a token given back
/// while it is unreachable is dropped and recorded the same way.
/// </summary>
public sealed class RedisRateLimiter(
    RedisConnection connection,
    IRateLimitSettings limits,
    IOptions<RedisOptions> options,
    RedisOutages outages) : IRateLimiter
{
    /// <summary>KEYS[1] = bucket; ARGV = capacity, per-minute rate. Returns {allowed (0/1), retry-after ms}.</summary>
    internal const string TokenBucketScript = $$"""
        {{ReadBucketLua}}
        if tokens == nil or at == nil then
          tokens = capacity
          at = now
        end
        {{RefillLua}}
        local allowed = 0
        local retry = 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        else
          retry = math.ceil((1 - tokens) * 60000 / perMinute)
        end
        {{WriteBucketLua}}
        return {allowed, retry}
        """;

    /// <summary>
    /// KEYS[1] = bucket; ARGV = capacity, per-minute rate. Adds one token, up to the capacity. A missing bucket is full
    /// (it expired once it had refilled), so there is nothing to add to.
    /// </summary>
    internal const string GiveBackScript = $$"""
        {{ReadBucketLua}}
        if tokens == nil or at == nil then
          return 0
        end
        {{RefillLua}}
        tokens = math.min(tokens + 1, capacity)
        {{WriteBucketLua}}
        return 1
        """;

    /// <summary>Lua shared by both scripts: the arguments, Redis's clock, and the bucket's stored state (or nils).</summary>
    private const string ReadBucketLua = """
        local capacity = tonumber(ARGV[1])
        local perMinute = tonumber(ARGV[2])
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1])
        local at = tonumber(state[2])
        """;

    /// <summary>Lua: the tokens refilled up to now; a clock that steps back adds nothing, a lowered burst caps them.</summary>
    private const string RefillLua = """
        if now > at then
          tokens = tokens + (now - at) * perMinute / 60000
          at = now
        end
        if tokens > capacity then
          tokens = capacity
        end
        """;

    /// <summary>Lua: stores the bucket, to expire once it would be full again (a full bucket equals no bucket).</summary>
    private const string WriteBucketLua = """
        redis.call('HMSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', at))
        redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 60000 / perMinute) + 1000)
        """;

    private readonly RedisOptions _options = options.Value;

    public async ValueTask<RateLimitDecision> TryAcquireAsync(
        RateLimitScope scope, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var limit = await limits.GetAsync(scope, cancellationToken);
        if (limit.Unlimited)
        {
            return RateLimitDecision.Allow;
        }

        try
        {
            var database = await connection.GetDatabaseAsync();
            var result = (RedisResult[])(await connection.WithinTimeout(database.ScriptEvaluateAsync(TokenBucketScript,
                [BucketKey(scope, key)], [limit.Capacity, limit.PerMinute])))!;
            return (long)result[0] == 1
                ? RateLimitDecision.Allow
                : new RateLimitDecision(false, TimeSpan.FromMilliseconds((long)result[1]));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            if (_options.FailMode == RedisFailMode.Open)
            {
                outages.Record("rate-limit", "allowed (fail open)", ex);
                return RateLimitDecision.Allow;
            }

            outages.Record("rate-limit", "refused (fail closed)", ex);
            return new RateLimitDecision(false, _options.FailClosedRetryAfter);
        }
    }

    public async ValueTask GiveBackAsync(RateLimitScope scope, string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var limit = await limits.GetAsync(scope, cancellationToken);
        if (limit.Unlimited)
        {
            return;
        }

        try
        {
            var database = await connection.GetDatabaseAsync();
            await connection.WithinTimeout(database.ScriptEvaluateAsync(GiveBackScript, [BucketKey(scope, key)], [limit.Capacity, limit.PerMinute]));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // At worst the caller waits a little longer for its next token; that is no reason to fail its request.
            outages.Record("rate-limit", "give-back dropped", ex);
        }
    }

    private string BucketKey(RateLimitScope scope, string key) =>
        $"{connection.KeyPrefix}ratelimit:{scope.ToString().ToLowerInvariant()}:{key}";
}
