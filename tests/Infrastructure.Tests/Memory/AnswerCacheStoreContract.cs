using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Caching;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.Redis;
using NUnit.Framework;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace MeatLizard.Infrastructure.Tests.Memory;

/// <summary>
/// What every answer cache store does (<see cref="IAnswerCacheStore"/>), run on the one in this process and on Redis:
/// an answer kept is found by its key until its lifetime ends; past the cap the oldest go; a missed question's key is
/// handed once to its request's answer.
/// </summary>
public abstract class AnswerCacheStoreContract
{
    private static readonly CachedAnswer Reptile = new("A reptile.", 12, 3, "alpha", "stop");

    protected abstract Task<IAnswerCacheStore> CreateAsync(AnswerCacheOptions options);

    private Task<IAnswerCacheStore> CreateAsync(TimeSpan? lifetime = null, int maxEntries = 100) =>
        CreateAsync(new AnswerCacheOptions
        {
            Enabled = true, Lifetime = lifetime ?? TimeSpan.FromMinutes(5), MaxEntries = maxEntries,
        });

    private static string NewKey() => Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");

    [Test]
    public async Task AKeptAnswer_IsFoundByItsKey_AndAnotherKeyFindsNothing()
    {
        var store = await CreateAsync();
        var key = NewKey();

        await store.KeepAsync(key, Reptile, CancellationToken.None);

        Assert.That(await store.FindAsync(key, CancellationToken.None), Is.EqualTo(Reptile));
        Assert.That(await store.FindAsync(NewKey(), CancellationToken.None), Is.Null);
    }

    [Test]
    public async Task AnAnswer_IsGoneOnceItsLifetimeEnds()
    {
        var store = await CreateAsync(lifetime: TimeSpan.FromMilliseconds(600));
        var key = NewKey();
        await store.KeepAsync(key, Reptile, CancellationToken.None);
        Assert.That(await store.FindAsync(key, CancellationToken.None), Is.Not.Null);

        await Task.Delay(TimeSpan.FromMilliseconds(1200));

        Assert.That(await store.FindAsync(key, CancellationToken.None), Is.Null);
    }

    [Test]
    public async Task PastTheCap_TheOldestGo()
    {
        var store = await CreateAsync(maxEntries: 3);
        var keys = Enumerable.Range(0, 5).Select(_ => NewKey()).ToList();
        foreach (var (key, i) in keys.Select((k, i) => (k, i)))
        {
            await store.KeepAsync(key, Reptile with { Content = $"answer {i}" }, CancellationToken.None);
            // Kept a moment apart: Redis orders them by the millisecond.
            await Task.Delay(5);
        }

        var found = new List<string?>();
        foreach (var key in keys)
        {
            found.Add((await store.FindAsync(key, CancellationToken.None))?.Content);
        }

        Assert.That(found, Is.EqualTo(new[] { null, null, "answer 2", "answer 3", "answer 4" }));
    }

    [Test]
    public async Task AMissedQuestionsKey_IsTakenOnceByItsRequest()
    {
        var store = await CreateAsync();
        var request = Guid.NewGuid();
        var key = NewKey();

        await store.AwaitAsync(request, key, CancellationToken.None);

        Assert.That(await store.TakeAwaitedAsync(request, CancellationToken.None), Is.EqualTo(key));
        Assert.That(await store.TakeAwaitedAsync(request, CancellationToken.None), Is.Null, "taken once");
        Assert.That(await store.TakeAwaitedAsync(Guid.NewGuid(), CancellationToken.None), Is.Null);
    }
}

public sealed class MemoryAnswerCacheTests : AnswerCacheStoreContract
{
    protected override Task<IAnswerCacheStore> CreateAsync(AnswerCacheOptions options) =>
        Task.FromResult<IAnswerCacheStore>(new MemoryAnswerCache(MsOptions.Create(options), TimeProvider.System));
}

/// <summary>The contract on the real Redis; and with Redis out, nothing is found nor kept, and nothing is thrown.</summary>
public sealed class RedisAnswerCacheTests : AnswerCacheStoreContract
{
    private readonly List<RedisTestServer> _servers = [];

    protected override async Task<IAnswerCacheStore> CreateAsync(AnswerCacheOptions options)
    {
        // A server (and key prefix) per store: the cap counts one store's answers.
        var redis = new RedisTestServer();
        _servers.Add(redis);
        return new RedisAnswerCache(await redis.ConnectedAsync(), redis.Outages(), MsOptions.Create(options),
            TimeProvider.System);
    }

    [TearDown]
    public async Task DisconnectAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _servers.Clear();
    }

    [Test]
    public async Task WithRedisOut_NothingIsFoundNorKept_AndNothingThrown()
    {
        using var own = new OwnRedisServer();
        await own.StartAsync();
        await using var redis = new RedisTestServer(own.Endpoint);
        var store = new RedisAnswerCache(await redis.ConnectedAsync(), redis.Outages(),
            MsOptions.Create(new AnswerCacheOptions { Enabled = true }), TimeProvider.System);
        var key = Guid.NewGuid().ToString("N");
        await store.KeepAsync(key, new CachedAnswer("kept", 1, 1, null, "stop"), CancellationToken.None);

        own.Kill();

        Assert.That(await store.FindAsync(key, CancellationToken.None), Is.Null);
        Assert.DoesNotThrowAsync(() => store.KeepAsync(key, new CachedAnswer("x", 1, 1, null, "stop"), CancellationToken.None));
        Assert.That(await store.TakeAwaitedAsync(Guid.NewGuid(), CancellationToken.None), Is.Null);
    }
}
