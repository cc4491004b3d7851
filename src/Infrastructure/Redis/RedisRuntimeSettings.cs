using System.Text.Json;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using MeatLizard.Infrastructure.Persistence;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The admin settings read through a cache shared by every process, with explicit invalidation on write. Three layers:
/// this process's snapshot (answers without any round trip), a snapshot in Redis (one round trip; the settings table
/// is read only when Redis holds no current one), and the table. A write (<see cref="Invalidate"/>, called by the
/// writer after its commit) bumps a version number in Redis and publishes on <c>{prefix}cache:invalidate</c>
/// (<see cref="RedisCacheInvalidations"/>, topic <c>settings</c>), so every process drops its snapshot at once; a snapshot in Redis counts only while it carries the current version,
/// so one loaded from the table before a write and stored after it is never served. The local snapshot also expires
/// after <see cref="LocalLifetime"/>, which bounds staleness if an invalidation is missed (Redis down at that moment).
/// While Redis is unreachable the table is read directly (recorded by <see cref="RedisOutages"/>); while neither can be
/// read, the settings last loaded stay in use (<see cref="SettingsSnapshot"/>).
/// </summary>
public sealed class RedisRuntimeSettings : IRuntimeSettings, IDisposable
{
    public static readonly TimeSpan LocalLifetime = TimeSpan.FromSeconds(30);

    /// <summary>How long a snapshot stays in Redis; a write replaces it sooner.</summary>
    public static readonly TimeSpan SharedLifetime = TimeSpan.FromMinutes(10);

    private const string Topic = "settings";

    /// <summary>KEYS = version, snapshot; ARGV = channel, topic. Bumps the version, drops the snapshot, tells everyone.</summary>
    private const string InvalidateScript = """
        redis.call('INCR', KEYS[1])
        redis.call('DEL', KEYS[2])
        redis.call('PUBLISH', ARGV[1], ARGV[2])
        return 0
        """;

    private readonly RedisConnection _connection;
    private readonly RedisCacheInvalidations _invalidations;
    private readonly IServiceScopeFactory _scopes;
    private readonly RedisOutages _outages;
    private readonly SettingsSnapshot _snapshot;
    private Task _invalidating = Task.CompletedTask;

    public RedisRuntimeSettings(
        RedisConnection connection,
        RedisCacheInvalidations invalidations,
        IServiceScopeFactory scopes,
        TimeProvider clock,
        RedisOutages outages)
    {
        ArgumentNullException.ThrowIfNull(invalidations);
        _connection = connection;
        _invalidations = invalidations;
        _scopes = scopes;
        _outages = outages;
        _snapshot = new SettingsSnapshot(clock, LocalLifetime, ReadSharedAsync);
        invalidations.Listen(Topic, _ => _snapshot.Drop());
        invalidations.OnLost(_snapshot.Drop);
    }

    private string VersionKey => $"{_connection.KeyPrefix}cache:settings:version";

    private string SnapshotKey => $"{_connection.KeyPrefix}cache:settings";

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken) => _snapshot.GetAsync(key, cancellationToken);

    public void Invalidate()
    {
        _snapshot.Drop();
        _invalidating = InvalidateEverywhereAsync();
    }

    /// <summary>The subscription belongs to <see cref="RedisCacheInvalidations"/>.</summary>
    public void Dispose() => _snapshot.Dispose();

    private async Task InvalidateEverywhereAsync()
    {
        try
        {
            var database = await _connection.GetDatabaseAsync();
            await _connection.WithinTimeout(
                database.ScriptEvaluateAsync(InvalidateScript, [VersionKey, SnapshotKey], [(string)_invalidations.Channel!, Topic]));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            _outages.Record("settings invalidation", $"other processes see the change within {LocalLifetime.TotalSeconds:F0} s", ex);
        }
    }

    private async Task<IReadOnlyDictionary<string, string>> ReadSharedAsync(CancellationToken cancellationToken)
    {
        // This process's own write is in Redis before this process reads Redis again.
        await _invalidating;
        long version;
        try
        {
            await _invalidations.EnsureSubscribedAsync();
            var database = await _connection.GetDatabaseAsync();
            var read = await _connection.WithinTimeout(database.StringGetAsync([VersionKey, SnapshotKey]));
            version = read[0].IsNull ? 0 : (long)read[0];
            if (!read[1].IsNull
                && JsonSerializer.Deserialize<SharedSnapshot>((string)read[1]!) is { } shared
                && shared.Version == version)
            {
                return shared.Values;
            }
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            _outages.Record("settings read", "read from the database", ex);
            return await SettingsSnapshot.ReadTableAsync(_scopes, cancellationToken);
        }

        var values = await SettingsSnapshot.ReadTableAsync(_scopes, cancellationToken);
        try
        {
            // Stored with the version read before the table: after a write meanwhile it no longer counts.
            var database = await _connection.GetDatabaseAsync();
            await _connection.WithinTimeout(
                database.StringSetAsync(SnapshotKey, JsonSerializer.Serialize(new SharedSnapshot(version, values)), SharedLifetime));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            _outages.Record("settings cache fill", "not shared", ex);
        }

        return values;
    }

    private sealed record SharedSnapshot(long Version, IReadOnlyDictionary<string, string> Values);
}
