using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

public sealed class RedisRateLimiterTests
{
    private RedisTestServer _server = null!;
    private TestOptionsMonitor<RateLimitOptions> _limits = null!;

    [SetUp]
    public void SetUp()
    {
        _server = new RedisTestServer();
        _limits = new TestOptionsMonitor<RateLimitOptions>(new RateLimitOptions
        {
            PerUserPerMinute = 1, UserBurst = 50, PerIpPerMinute = 1, IpBurst = 3, PerGuildPerMinute = 1, GuildBurst = 2,
        });
    }

    [TearDown]
    public async Task TearDown() => await _server.DisposeAsync();

    [Test]
    public async Task Acquire_200ConcurrentChecksFromTwoInstances_AllowExactlyTheBurst()
    {
        // Two multiplexers stand for two API instances; a refill of 1 a minute adds nothing during the test.
        var instances = new[] { Limiter(await _server.ConnectedAsync()), Limiter(await _server.ConnectedAsync()) };

        var decisions = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() =>
            instances[i % 2].TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None).AsTask())));

        Assert.Multiple(() =>
        {
            Assert.That(decisions.Count(d => d.Allowed), Is.EqualTo(50));
            Assert.That(decisions.Where(d => !d.Allowed).Select(d => d.RetryAfter),
                Has.All.GreaterThan(TimeSpan.FromSeconds(50)).And.All.LessThanOrEqualTo(TimeSpan.FromMinutes(1)));
        });
    }

    [Test]
    public async Task Acquire_WhenEmpty_AllowsAgainOnceATokenHasRefilled()
    {
        _limits.CurrentValue = new RateLimitOptions { PerUserPerMinute = 600, UserBurst = 1 }; // one token per 100 ms
        var limiter = Limiter(await _server.ConnectedAsync());

        var first = await limiter.TryAcquireAsync(RateLimitScope.User, "bob", CancellationToken.None);
        var second = await limiter.TryAcquireAsync(RateLimitScope.User, "bob", CancellationToken.None);
        await Task.Delay(TimeSpan.FromMilliseconds(250));
        var later = await limiter.TryAcquireAsync(RateLimitScope.User, "bob", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first.Allowed, Is.True);
            Assert.That(second.Allowed, Is.False);
            Assert.That(second.RetryAfter, Is.GreaterThan(TimeSpan.Zero).And.LessThanOrEqualTo(TimeSpan.FromMilliseconds(100)));
            Assert.That(later.Allowed, Is.True);
        });
    }

    [Test]
    public async Task Acquire_KeepsUserIpAndGuildBucketsApart()
    {
        var limiter = Limiter(await _server.ConnectedAsync());

        var ip = await Count(limiter, RateLimitScope.Ip, "same", 10);
        var guild = await Count(limiter, RateLimitScope.Guild, "same", 10);
        var user = await Count(limiter, RateLimitScope.User, "same", 60);
        var otherIp = await Count(limiter, RateLimitScope.Ip, "other", 10);

        Assert.That((ip, guild, user, otherIp), Is.EqualTo((3, 2, 50, 3)));
    }

    [Test]
    public async Task Acquire_AfterLimitsChangeAtRunTime_UsesTheNewLimits()
    {
        var limiter = Limiter(await _server.ConnectedAsync());
        Assert.That(await Count(limiter, RateLimitScope.User, "carol", 5), Is.EqualTo(5));

        // Lowering the burst caps what was saved up; raising the rate to unlimited lets everything through.
        _limits.CurrentValue = new RateLimitOptions { PerUserPerMinute = 1, UserBurst = 2 };
        var afterLowering = await Count(limiter, RateLimitScope.User, "carol", 10);
        _limits.CurrentValue = new RateLimitOptions { PerUserPerMinute = 0, UserBurst = 2 };
        var unlimited = await Count(limiter, RateLimitScope.User, "carol", 10);

        Assert.That((afterLowering, unlimited), Is.EqualTo((2, 10)));
    }

    [Test]
    public async Task Acquire_StoresTheBucketWithAnExpiry()
    {
        var connection = _server.Connect();
        await Limiter(connection).TryAcquireAsync(RateLimitScope.User, "dave", CancellationToken.None);

        var database = await connection.GetDatabaseAsync();
        var ttl = await database.KeyTimeToLiveAsync($"{_server.KeyPrefix}ratelimit:user:dave");

        // One token short of full at 1 a minute: it would be full again in a minute (+1 s margin).
        Assert.That(ttl, Is.GreaterThan(TimeSpan.FromSeconds(50)).And.LessThanOrEqualTo(TimeSpan.FromSeconds(61)));
    }

    [TestCase(false, TestName = "GiveBack_AfterTheWholeBurst_AllowsExactlyOneMore")]
    [TestCase(true, TestName = "GiveBack_FromAnotherInstance_CountsForTheFirst")]
    public async Task GiveBack_AfterTheWholeBurst_AllowsExactlyOneMore(bool fromAnotherInstance)
    {
        // A second multiplexer stands for another API instance.
        var first = Limiter(await _server.ConnectedAsync());
        var givingBack = fromAnotherInstance ? Limiter(await _server.ConnectedAsync()) : first;
        var burst = await Count(first, RateLimitScope.Ip, "10.0.0.1", 3);

        await givingBack.GiveBackAsync(RateLimitScope.Ip, "10.0.0.1", CancellationToken.None);

        Assert.That((burst, await Count(first, RateLimitScope.Ip, "10.0.0.1", 5)), Is.EqualTo((3, 1)));
    }

    [Test]
    public async Task GiveBack_ToAFullOrUnknownBucket_NeverRaisesItAboveTheBurst()
    {
        var connection = _server.Connect();
        var limiter = Limiter(connection);

        // One taken, three given back: the bucket of 3 is full after the first.
        await limiter.TryAcquireAsync(RateLimitScope.Ip, "taken", CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await limiter.GiveBackAsync(RateLimitScope.Ip, "taken", CancellationToken.None);
        }

        await limiter.GiveBackAsync(RateLimitScope.Ip, "unknown", CancellationToken.None);
        var database = await connection.GetDatabaseAsync();
        var unknownStored = await database.KeyExistsAsync($"{_server.KeyPrefix}ratelimit:ip:unknown");

        var taken = await Count(limiter, RateLimitScope.Ip, "taken", 6);
        var unknown = await Count(limiter, RateLimitScope.Ip, "unknown", 6);

        Assert.Multiple(() =>
        {
            Assert.That(taken, Is.EqualTo(3), "the burst of 3, no more");
            Assert.That(unknown, Is.EqualTo(3), "the burst of 3, no more");
            Assert.That(unknownStored, Is.False, "a give-back to a missing bucket stores none");
        });
    }

    [Test]
    public async Task GiveBack_WhileTheScopeIsUnlimited_ReturnsNothing()
    {
        var limiter = Limiter(await _server.ConnectedAsync());
        await Count(limiter, RateLimitScope.Guild, "guild", 2);

        _limits.CurrentValue = new RateLimitOptions { PerGuildPerMinute = 0, GuildBurst = 2 };
        await limiter.GiveBackAsync(RateLimitScope.Guild, "guild", CancellationToken.None);
        _limits.CurrentValue = new RateLimitOptions { PerGuildPerMinute = 1, GuildBurst = 2 };

        Assert.That(await Count(limiter, RateLimitScope.Guild, "guild", 3), Is.EqualTo(0));
    }

    private static async Task<int> Count(IRateLimiter limiter, RateLimitScope scope, string key, int attempts)
    {
        var allowed = 0;
        for (var i = 0; i < attempts; i++)
        {
            if ((await limiter.TryAcquireAsync(scope, key, CancellationToken.None)).Allowed)
            {
                allowed++;
            }
        }

        return allowed;
    }

    private RedisRateLimiter Limiter(RedisConnection connection) =>
        new(connection, new ConfiguredRateLimits(_limits, new TestRuntimeSettings()), Options.Create(_server.Options()), _server.Outages());
}
