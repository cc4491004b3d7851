using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.Persistence;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// The admin settings cache shared through Redis by several processes (each with its own multiplexer), over one
/// settings table (here a table in memory that counts how often it is read).
/// </summary>
public sealed class RedisRuntimeSettingsTests
{
    private RedisTestServer _server = null!;
    private CountingSettingsStore _table = null!;
    private ServiceProvider _services = null!;

    [SetUp]
    public void SetUp()
    {
        _server = new RedisTestServer();
        _table = new CountingSettingsStore();
        _services = new ServiceCollection().AddScoped<ISettingsStore>(_ => _table).BuildServiceProvider();
    }

    [TearDown]
    public async Task TearDown()
    {
        await _services.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task ASecondProcess_IsServedFromRedis_WithoutReadingTheTable()
    {
        await _table.SetAsync(Entry("fallback.mode", "Markov"), CancellationToken.None);
        using var first = Process();
        using var second = Process();

        var read1 = await first.GetAsync("fallback.mode", CancellationToken.None);
        var read2 = await second.GetAsync("fallback.mode", CancellationToken.None);
        var again = await second.GetAsync("fallback.mode", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(new[] { read1, read2, again }, Is.All.EqualTo("Markov"));
            Assert.That(_table.Reads, Is.EqualTo(1), "the table is read once for both processes");
        });
    }

    [Test]
    public async Task AWriteInOneProcess_IsSeenByTheOthersAtOnce()
    {
        await _table.SetAsync(Entry("ratelimit.user.per_minute", "10"), CancellationToken.None);
        using var writer = Process();
        using var reader = Process();
        Assert.That(await reader.GetAsync("ratelimit.user.per_minute", CancellationToken.None), Is.EqualTo("10"));
        Assert.That(await writer.GetAsync("ratelimit.user.per_minute", CancellationToken.None), Is.EqualTo("10"));

        // As AdminSettingsWriter does: store, then invalidate.
        await _table.SetAsync(Entry("ratelimit.user.per_minute", "25"), CancellationToken.None);
        writer.Invalidate();

        Assert.That(await writer.GetAsync("ratelimit.user.per_minute", CancellationToken.None), Is.EqualTo("25"),
            "the writing process sees its own write on its next read");
        var clock = Stopwatch.StartNew();
        string? seen;
        do
        {
            seen = await reader.GetAsync("ratelimit.user.per_minute", CancellationToken.None);
        }
        while (seen != "25" && clock.Elapsed < TimeSpan.FromSeconds(5));

        Assert.That(seen, Is.EqualTo("25"), "the other process dropped its snapshot on the invalidation");
        Assert.That(clock.Elapsed, Is.LessThan(RedisRuntimeSettings.LocalLifetime / 2), "long before its snapshot would expire");
    }

    [Test]
    public async Task ASnapshotLoadedBeforeAWrite_IsNeverServedAfterIt()
    {
        await _table.SetAsync(Entry("model.default", "old"), CancellationToken.None);
        using var slow = Process();
        using var writer = Process();

        // The slow process reads the table, then a write lands before it stores what it read in Redis.
        _table.AfterRead = async () =>
        {
            _table.AfterRead = null;
            await _table.SetAsync(Entry("model.default", "new"), CancellationToken.None);
            writer.Invalidate();
            await Task.Delay(200);
        };
        Assert.That(await slow.GetAsync("model.default", CancellationToken.None), Is.EqualTo("old"));

        using var third = Process();
        Assert.That(await third.GetAsync("model.default", CancellationToken.None), Is.EqualTo("new"),
            "the stale snapshot stored after the write carries an old version and is ignored");
    }

    [Test]
    public async Task WhileRedisIsDown_TheTableIsReadDirectly_AndTheOutageIsCounted()
    {
        await _table.SetAsync(Entry("fallback.mode", "Inform"), CancellationToken.None);
        using var redis = new OwnRedisServer();
        await redis.StartAsync();
        await using var server = new RedisTestServer(redis.Endpoint);
        var outages = server.Outages();
        var connection = server.Connect(server.Options(extra: "connectTimeout=1000,syncTimeout=1000"));
        using var settings = new RedisRuntimeSettings(connection, new RedisCacheInvalidations(connection, outages, NullLogger<RedisCacheInvalidations>.Instance),
            _services.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System, outages);
        redis.Kill();

        var value = await settings.GetAsync("fallback.mode", CancellationToken.None);

        Assert.That(value, Is.EqualTo("Inform"));
        Assert.That(outages.Total, Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task WhileNeitherRedisNorTheTableHoldsThem_TheLastSettingsAreServed_AndTheTableTriedAgainAfterAPause()
    {
        await _table.SetAsync(Entry("fallback.mode", "Markov"), CancellationToken.None);
        var clock = new ManualClock();
        using var settings = Process(clock);
        Assert.That(await settings.GetAsync("fallback.mode", CancellationToken.None), Is.EqualTo("Markov"));

        // Redis holds no snapshot (as after a write elsewhere), this process's has expired, and the database is away.
        var redis = _server.Connect();
        await (await redis.GetDatabaseAsync()).KeyDeleteAsync($"{redis.KeyPrefix}cache:settings");
        _table.Failing = true;
        clock.Advance(RedisRuntimeSettings.LocalLifetime);
        var readsBefore = _table.Reads;
        var during = new List<string?>();
        for (var i = 0; i < 5; i++)
        {
            during.Add(await settings.GetAsync("fallback.mode", CancellationToken.None));
        }

        Assert.That(during, Is.All.EqualTo("Markov"), "the last settings, not a failure for every rate-limit check");
        Assert.That(_table.Reads - readsBefore, Is.EqualTo(1), "one failed read, then a pause before the next");

        _table.Failing = false;
        await _table.SetAsync(Entry("fallback.mode", "Inform"), CancellationToken.None);
        clock.Advance(SettingsSnapshot.RetryAfterFailure);
        Assert.That(await settings.GetAsync("fallback.mode", CancellationToken.None), Is.EqualTo("Inform"));
    }

    private RedisRuntimeSettings Process(TimeProvider? clock = null)
    {
        var connection = _server.Connect();
        var outages = _server.Outages();
        return new RedisRuntimeSettings(connection, new RedisCacheInvalidations(connection, outages, NullLogger<RedisCacheInvalidations>.Instance),
            _services.GetRequiredService<IServiceScopeFactory>(), clock ?? TimeProvider.System, outages);
    }

    private static SettingEntry Entry(string key, string value) => CountingSettingsStore.Entry(key, value);
}
