using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The answer cache shared by every process (distributed mode): each answer a Redis string that expires with its
/// lifetime, and a sorted set of the keys by when they were kept, trimmed in the same script to
/// <see cref="AnswerCacheOptions.MaxEntries"/> (the oldest go) and cleared of expired keys; a missed question's key is a
/// string under its request's id until its answer is kept. With Redis out, nothing is found and nothing kept: questions
/// go to the model as without the cache.
/// </summary>
public sealed class RedisAnswerCache(
    RedisConnection connection, RedisOutages outages, IOptions<AnswerCacheOptions> options, TimeProvider time)
    : IAnswerCacheStore
{
    // KEYS[1] the answer, KEYS[2] the index; ARGV: the answer, its lifetime (ms), now (ms), the cap.
    private const string KeepScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
        local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
        if over > 0 then
            local oldest = redis.call('ZRANGE', KEYS[2], 0, over - 1)
            for _, key in ipairs(oldest) do
                redis.call('DEL', key)
            end
            redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
        end
        return 1
        """;

    private const string TakeScript = """
        local key = redis.call('GET', KEYS[1])
        if key then
            redis.call('DEL', KEYS[1])
        end
        return key
        """;

    public async Task<CachedAnswer?> FindAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            var value = await connection.WithinTimeout(database.StringGetAsync(AnswerKey(key)));
            return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize<CachedAnswer>((string)value!);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("answer cache read", "the question is asked of the model", ex);
            return null;
        }
    }

    public async Task KeepAsync(string key, CachedAnswer answer, CancellationToken cancellationToken)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            await connection.WithinTimeout(database.ScriptEvaluateAsync(KeepScript, [AnswerKey(key), IndexKey],
            [
                JsonSerializer.Serialize(answer), (long)options.Value.Lifetime.TotalMilliseconds,
                time.GetUtcNow().ToUnixTimeMilliseconds(), options.Value.MaxEntries,
            ]));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("answer cache write", "the answer is not kept for the next time it is asked", ex);
        }
    }

    public async Task AwaitAsync(Guid requestId, string key, CancellationToken cancellationToken)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            await connection.WithinTimeout(database.StringSetAsync(AwaitedKey(requestId), key,
                Memory.MemoryAnswerCache.AwaitLifetime));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("answer cache write", "the answer is not kept for the next time it is asked", ex);
        }
    }

    public async Task<string?> TakeAwaitedAsync(Guid requestId, CancellationToken cancellationToken)
    {
        try
        {
            var database = await connection.GetDatabaseAsync();
            var key = await connection.WithinTimeout(database.ScriptEvaluateAsync(TakeScript, [AwaitedKey(requestId)]));
            return key.IsNull ? null : (string?)key;
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("answer cache read", "the answer is not kept for the next time it is asked", ex);
            return null;
        }
    }

    private RedisKey AnswerKey(string key) => $"{connection.KeyPrefix}answers:{key}";

    private RedisKey IndexKey => $"{connection.KeyPrefix}answers:index";

    private RedisKey AwaitedKey(Guid requestId) => $"{connection.KeyPrefix}answers:await:{requestId:N}";
}
