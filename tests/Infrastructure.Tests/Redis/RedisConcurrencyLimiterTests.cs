using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>Open streams and waiting calls per user, counted across API instances (one multiplexer each).</summary>
public sealed class RedisConcurrencyLimiterTests
{
    private RedisTestServer _server = null!;
    private TestOptionsMonitor<RateLimitOptions> _limits = null!;

    [SetUp]
    public void SetUp()
    {
        _server = new RedisTestServer();
        _limits = new TestOptionsMonitor<RateLimitOptions>(new RateLimitOptions { ConcurrencyLease = TimeSpan.FromSeconds(1) });
    }

    [TearDown]
    public async Task TearDown() => await _server.DisposeAsync();

    [Test]
    public async Task Enter_100ConcurrentAttemptsFromTwoInstances_GetExactlyTheLimit()
    {
        var instances = new[] { await LimiterAsync(), await LimiterAsync() };

        var places = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() =>
            instances[i % 2].TryEnterAsync(ConcurrencyScope.OpenStream, "alice", 3, CancellationToken.None).AsTask())));

        Assert.That(places.Count(p => p is not null), Is.EqualTo(3));
        foreach (var place in places.OfType<IAsyncDisposable>())
        {
            await place.DisposeAsync();
        }
    }

    [Test]
    public async Task Leave_OnOneInstance_FreesThePlaceForAnother()
    {
        var one = await LimiterAsync();
        var two = await LimiterAsync();

        var held = await one.TryEnterAsync(ConcurrencyScope.WaitingCall, "bob", 1, CancellationToken.None);
        var whileHeld = await two.TryEnterAsync(ConcurrencyScope.WaitingCall, "bob", 1, CancellationToken.None);
        var otherScope = await two.TryEnterAsync(ConcurrencyScope.OpenStream, "bob", 1, CancellationToken.None);
        var otherUser = await two.TryEnterAsync(ConcurrencyScope.WaitingCall, "carol", 1, CancellationToken.None);
        await held!.DisposeAsync();
        var afterLeave = await two.TryEnterAsync(ConcurrencyScope.WaitingCall, "bob", 1, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(whileHeld, Is.Null);
            Assert.That(otherScope, Is.Not.Null);
            Assert.That(otherUser, Is.Not.Null);
            Assert.That(afterLeave, Is.Not.Null);
        });
    }

    [Test]
    public async Task ALiveHolder_KeepsItsPlaceLongAfterTheLease()
    {
        var one = await LimiterAsync();
        var two = await LimiterAsync();

        await using var held = await one.TryEnterAsync(ConcurrencyScope.OpenStream, "dave", 1, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // two and a half leases: only renewal keeps it
        var other = await two.TryEnterAsync(ConcurrencyScope.OpenStream, "dave", 1, CancellationToken.None);

        Assert.That(held, Is.Not.Null);
        Assert.That(other, Is.Null);
    }

    [Test]
    public async Task AnInstanceThatDies_LosesItsPlacesOnceTheirLeasesRunOut()
    {
        var dyingConnection = await _server.ConnectedAsync();
        var dying = Limiter(dyingConnection);
        var survivor = await LimiterAsync();

        var held = await dying.TryEnterAsync(ConcurrencyScope.OpenStream, "erin", 1, CancellationToken.None);
        // The instance is gone: no renewal reaches Redis any more, and nobody gives the place back.
        await dyingConnection.DisposeAsync();
        var atOnce = await survivor.TryEnterAsync(ConcurrencyScope.OpenStream, "erin", 1, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var afterTheLease = await survivor.TryEnterAsync(ConcurrencyScope.OpenStream, "erin", 1, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(held, Is.Not.Null);
            Assert.That(atOnce, Is.Null);
            Assert.That(afterTheLease, Is.Not.Null);
        });
    }

    private async Task<RedisConcurrencyLimiter> LimiterAsync() => Limiter(await _server.ConnectedAsync());

    private RedisConcurrencyLimiter Limiter(RedisConnection connection) => new(connection, _limits,
        Options.Create(_server.Options()), new RedisOutages(_server.MeterFactory, NullLogger<RedisOutages>.Instance),
        NullLogger<RedisConcurrencyLimiter>.Instance);
}
