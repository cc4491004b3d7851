using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Replay memory shared by every relay process: <c>SET key 1 PX ttl NX</c>, so only the first sighting of a key
/// within its TTL succeeds, whichever process sees it. While Redis is unreachable the guard falls back to
/// <paramref name="local"/> (this process's memory) rather than refusing every envelope: replays inside this process
/// are still caught, and the envelope freshness window bounds what could slip through elsewhere.
/// </summary>
public sealed class RedisReplayGuard(RedisConnection connection, MemoryReplayGuard local, RedisOutages outages)
    : IReplayGuard
{
    /// <summary>Who registers a key: this process, so a key it finds taken says whether it or another took it.</summary>
    private readonly string _owner = Guid.NewGuid().ToString("N");

    public async ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken) =>
        await SightAsync(key, ttl, cancellationToken) == ReplaySighting.First;

    public async ValueTask<ReplaySighting> SightAsync(string key, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var expiry = ttl > TimeSpan.Zero ? ttl : TimeSpan.FromMilliseconds(1);
        try
        {
            var database = await connection.GetDatabaseAsync();
            var redisKey = $"{connection.KeyPrefix}replay:{key}";
            if (await connection.WithinTimeout(database.StringSetAsync(redisKey, _owner, expiry, When.NotExists)))
            {
                return ReplaySighting.First;
            }

            // Taken: by this process (a replay) or another (the server bot beside this one). A key that expired
            // between the two calls was this process's to take no more than another's: a replay, to be safe.
            var taker = await connection.WithinTimeout(database.StringGetAsync(redisKey));
            return taker.HasValue && taker != _owner ? ReplaySighting.SeenElsewhere : ReplaySighting.SeenHere;
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("replay guard", "checked in this process only", ex);
            return await ((IReplayGuard)local).SightAsync(key, ttl, cancellationToken);
        }
    }

    public async ValueTask<bool> WasSeenAsync(string key, CancellationToken cancellationToken) =>
        await SeenByAsync(key, cancellationToken) != ReplaySighting.First;

    public async ValueTask<ReplaySighting> SeenByAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var database = await connection.GetDatabaseAsync();
            var taker = await connection.WithinTimeout(database.StringGetAsync($"{connection.KeyPrefix}replay:{key}"));
            return !taker.HasValue ? ReplaySighting.First
                : taker == _owner ? ReplaySighting.SeenHere : ReplaySighting.SeenElsewhere;
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("replay guard", "checked in this process only", ex);
            return await ((IReplayGuard)local).SeenByAsync(key, cancellationToken);
        }
    }
}
