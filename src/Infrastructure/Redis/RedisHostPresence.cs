using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Memory;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Worker heartbeats visible to every process: each worker's latest health is a key that expires after
/// <see cref="RelayOptions.WorkerTimeout"/>, listed through a sorted set of worker ids scored by heartbeat time.
/// A worker whose key has expired is not alive, and its id is dropped from the set when next listed. A late
/// heartbeat never replaces a newer one (checked in the same script that writes). Every heartbeat is also kept in
/// <paramref name="local"/>, which is merged into every list and answers alone while Redis is unreachable: the
/// process that receives the heartbeats (the server bot, which dispatches) keeps seeing its workers through an outage
/// and after a Redis restart that lost the keys, before the next heartbeat writes them again. A process that only
/// reads the list (an API instance, which hears no heartbeat) keeps what it last read: while Redis cannot be asked it cannot know better, so the
/// workers Redis held when last asked stand (up to <see cref="RelayOptions.MaxOutageHold"/>), and for a worker timeout
/// after that — as long as their keys would have lived — so a question is not refused for a host that was never away
/// (the dispatcher, which hears the hosts itself, decides what becomes of it).
/// </summary>
public sealed class RedisHostPresence(
    RedisConnection connection,
    MemoryHostPresence local,
    IOptions<RelayOptions> options,
    RedisOutages outages,
    IClock clock) : IHostPresence
{
    private LastRead? _lastRead;
    private volatile bool _hearsWorkers;

    /// <summary>The workers Redis listed when last asked (some), when, and until when they stand without it.</summary>
    private sealed record LastRead(IReadOnlyList<HostHealth> Workers, DateTimeOffset ReadAt, DateTimeOffset StandUntil);

    /// <summary>KEYS = index, worker key; ARGV = id, seen-at ms, health JSON, TTL ms. 0 when a newer heartbeat is held.</summary>
    internal const string RecordScript = """
        local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if current and tonumber(current) > tonumber(ARGV[2]) and redis.call('EXISTS', KEYS[2]) == 1 then
          return 0
        end
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
        return 1
        """;

    /// <summary>KEYS = index, then one worker key per id in ARGV. Drops ids whose key has expired.</summary>
    internal const string ForgetExpiredScript = """
        for i, id in ipairs(ARGV) do
          if redis.call('EXISTS', KEYS[i + 1]) == 0 then
            redis.call('ZREM', KEYS[1], id)
          end
        end
        return 0
        """;

    /// <summary>At most this many workers are listed; far more than a deployment runs.</summary>
    private const int MaxListed = 1_000;

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private string IndexKey => $"{connection.KeyPrefix}workers";

    public async ValueTask RecordAsync(HostHealth health, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(health);
        _hearsWorkers = true;
        await local.RecordAsync(health, cancellationToken);
        var ttl = (long)Math.Ceiling(options.Value.WorkerTimeout.TotalMilliseconds);
        try
        {
            var database = await connection.GetDatabaseAsync();
            await connection.WithinTimeout(database.ScriptEvaluateAsync(RecordScript, [IndexKey, WorkerKey(health.WorkerId)],
            [
                health.WorkerId.ToString("N"), health.SeenAt.ToUnixTimeMilliseconds(),
                JsonSerializer.Serialize(health, s_json), Math.Max(ttl, 1),
            ]));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("worker heartbeat", "kept in this process only", ex);
        }
    }

    public async ValueTask<IReadOnlyList<HostHealth>> ListAliveAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var database = await connection.GetDatabaseAsync();
            var ids = await connection.WithinTimeout(database.SortedSetRangeByRankAsync(IndexKey, 0, MaxListed - 1, Order.Descending));
            if (ids.Length == 0)
            {
                // No worker, or a restarted Redis that lost the keys: until the next heartbeats write them again, the
                // workers read a moment ago count as they did.
                return await WithoutRedisAsync(cancellationToken);
            }

            var values = await connection.WithinTimeout(
                database.StringGetAsync(ids.Select(id => (RedisKey)WorkerKey(Guid.Parse((string)id!))).ToArray()));
            var alive = new List<HostHealth>(ids.Length);
            var gone = new List<RedisValue>();
            for (var i = 0; i < ids.Length; i++)
            {
                if (values[i].IsNull)
                {
                    gone.Add(ids[i]);
                }
                else if (JsonSerializer.Deserialize<HostHealth>((string)values[i]!, s_json) is { } health)
                {
                    alive.Add(health);
                }
            }

            if (gone.Count > 0)
            {
                // Checked again inside the script: a worker may have sent a heartbeat since its key was read.
                await connection.WithinTimeout(database.ScriptEvaluateAsync(ForgetExpiredScript,
                    [IndexKey, .. gone.Select(id => (RedisKey)WorkerKey(Guid.Parse((string)id!)))], gone.ToArray()));
            }

            // Kept only where it is used: a process that hears the workers itself never answers from it.
            if (alive.Count > 0 && !_hearsWorkers)
            {
                var now = clock.UtcNow;
                Volatile.Write(ref _lastRead, new LastRead([.. alive], now, now + options.Value.WorkerTimeout));
            }

            return Merge(alive, await local.ListAliveAsync(cancellationToken));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("worker list", "answered from this process's heartbeats and its last read", ex);
            // Unreachable: what Redis said last stands while the outage lasts (to a cap), and a worker timeout after it.
            var now = clock.UtcNow;
            if (Volatile.Read(ref _lastRead) is { } last && now - last.ReadAt <= options.Value.MaxOutageHold
                && last.StandUntil < now + options.Value.WorkerTimeout)
            {
                Volatile.Write(ref _lastRead, last with { StandUntil = now + options.Value.WorkerTimeout });
            }

            return await WithoutRedisAsync(cancellationToken);
        }
    }

    /// <summary>
    /// This process's own heartbeats when it hears the workers itself (they say best who is alive, and who went quiet);
    /// otherwise the workers Redis listed when last asked, while they stand.
    /// </summary>
    private async ValueTask<IReadOnlyList<HostHealth>> WithoutRedisAsync(CancellationToken cancellationToken)
    {
        var last = Volatile.Read(ref _lastRead);
        var standing = !_hearsWorkers && last is not null && clock.UtcNow <= last.StandUntil ? last.Workers : [];
        return Merge([.. standing], await local.ListAliveAsync(cancellationToken));
    }

    /// <summary>Each worker once, by its newest heartbeat; the newest first.</summary>
    private static List<HostHealth> Merge(List<HostHealth> alive, IReadOnlyList<HostHealth> more)
    {
        foreach (var mine in more)
        {
            var known = alive.FindIndex(w => w.WorkerId == mine.WorkerId);
            if (known < 0)
            {
                alive.Add(mine);
            }
            else if (mine.SeenAt > alive[known].SeenAt)
            {
                alive[known] = mine;
            }
        }

        alive.Sort(static (a, b) => b.SeenAt.CompareTo(a.SeenAt));
        return alive;
    }

    private string WorkerKey(Guid workerId) => $"{connection.KeyPrefix}worker:{workerId:N}";
}
