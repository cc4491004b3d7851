using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Memory;

public sealed class MemoryRateLimiterTests
{
    private FakeClock _clock = null!;
    private TestOptionsMonitor<RateLimitOptions> _options = null!;
    private MemoryRateLimiter _limiter = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new FakeClock();
        _options = new TestOptionsMonitor<RateLimitOptions>(new RateLimitOptions
        {
            PerUserPerMinute = 6, UserBurst = 2, PerIpPerMinute = 60, IpBurst = 5,
        });
        _limiter = new MemoryRateLimiter(new ConfiguredRateLimits(_options, new TestRuntimeSettings()), _clock);
    }

    [Test]
    public async Task Acquire_With200ParallelCallsOnOneKey_AllowsExactlyTheBurst()
    {
        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 30, UserBurst = 10 };

        var decisions = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ =>
            Task.Run(() => _limiter.TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None).AsTask())));

        Assert.That(decisions.Count(d => d.Allowed), Is.EqualTo(10));
    }

    [Test]
    public async Task Acquire_WhenBucketIsEmpty_AllowsAgainOnlyOnceATokenHasRefilled()
    {
        Assert.That(await AcquireUser("alice"), Is.True);
        Assert.That(await AcquireUser("alice"), Is.True);
        Assert.That(await AcquireUser("alice"), Is.False);

        // 6 per minute: one token every 10 seconds.
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.That(await AcquireUser("alice"), Is.False);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await AcquireUser("alice"), Is.True);
        Assert.That(await AcquireUser("alice"), Is.False);
    }

    [Test]
    public async Task Acquire_AfterLongIdle_RefillsNoMoreThanTheBurst()
    {
        await AcquireUser("alice");
        await AcquireUser("alice");
        _clock.Advance(TimeSpan.FromHours(1));

        var allowed = 0;
        for (var i = 0; i < 10; i++)
        {
            allowed += await AcquireUser("alice") ? 1 : 0;
        }

        Assert.That(allowed, Is.EqualTo(2));
    }

    [Test]
    public async Task Acquire_WhenDenied_RetryAfterIsTimeUntilOneTokenIsAvailable()
    {
        await AcquireUser("alice");
        await AcquireUser("alice");

        var first = await _limiter.TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(4));
        var later = await _limiter.TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first.Allowed, Is.False);
            Assert.That(first.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(later.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(6)));
        });
    }

    [Test]
    public async Task Acquire_WhenAllowed_RetryAfterIsZero()
    {
        var decision = await _limiter.TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None);

        Assert.That(decision, Is.EqualTo(RateLimitDecision.Allow));
    }

    [Test]
    public async Task Acquire_OnOneKey_DoesNotSpendAnotherKeysTokens()
    {
        await AcquireUser("alice");
        await AcquireUser("alice");

        var alice = await AcquireUser("alice");
        var bob = await AcquireUser("bob");

        Assert.Multiple(() =>
        {
            Assert.That(alice, Is.False);
            Assert.That(bob, Is.True);
        });
    }

    [Test]
    public async Task Acquire_UserAndIpScopes_UseTheirOwnLimitsAndBuckets()
    {
        var user = new List<bool>();
        var ip = new List<bool>();
        for (var i = 0; i < 6; i++)
        {
            user.Add(await AcquireUser("same-key"));
            ip.Add((await _limiter.TryAcquireAsync(RateLimitScope.Ip, "same-key", CancellationToken.None)).Allowed);
        }

        Assert.Multiple(() =>
        {
            Assert.That(user.Count(a => a), Is.EqualTo(2), "user burst");
            Assert.That(ip.Count(a => a), Is.EqualTo(5), "ip burst");
        });
    }

    [TestCase(0)]
    [TestCase(-1)]
    public async Task Acquire_WhenPerMinuteLimitIsZeroOrLess_IsUnlimitedForThatScopeOnly(int perMinute)
    {
        _options.CurrentValue = new RateLimitOptions
        {
            PerUserPerMinute = perMinute, UserBurst = 1, PerIpPerMinute = 60, IpBurst = 1,
        };

        var userAllowed = 0;
        for (var i = 0; i < 500; i++)
        {
            userAllowed += await AcquireUser("alice") ? 1 : 0;
        }

        var ipFirst = await _limiter.TryAcquireAsync(RateLimitScope.Ip, "10.0.0.1", CancellationToken.None);
        var ipSecond = await _limiter.TryAcquireAsync(RateLimitScope.Ip, "10.0.0.1", CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(userAllowed, Is.EqualTo(500));
            Assert.That(ipFirst.Allowed, Is.True);
            Assert.That(ipSecond.Allowed, Is.False);
        });
    }

    [Test]
    public async Task Acquire_AfterLimitsChangeAtRunTime_UsesTheNewLimits()
    {
        await AcquireUser("alice");
        await AcquireUser("alice");
        var before = await _limiter.TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None);

        // Ten times the rate: a token every second instead of every ten.
        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 60, UserBurst = 2 };
        var after = await _limiter.TryAcquireAsync(RateLimitScope.User, "alice", CancellationToken.None);

        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 0, UserBurst = 2 };
        var unlimited = await AcquireUser("alice");

        Assert.Multiple(() =>
        {
            Assert.That(before.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(after.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(1)));
            Assert.That(unlimited, Is.True);
        });
    }

    [Test]
    public async Task Acquire_WhenBurstIsLoweredAtRunTime_CapsTokensAlreadySaved()
    {
        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 6, UserBurst = 10 };
        await AcquireUser("alice");

        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 6, UserBurst = 3 };
        var allowed = 0;
        for (var i = 0; i < 10; i++)
        {
            allowed += await AcquireUser("alice") ? 1 : 0;
        }

        Assert.That(allowed, Is.EqualTo(3));
    }

    [Test]
    public async Task Sweep_EvictsBucketsThatRefilledAndStayedIdle()
    {
        for (var i = 0; i < 100; i++)
        {
            await AcquireUser($"user-{i}");
        }

        Assert.That(_limiter.BucketCount, Is.EqualTo(100));

        _clock.Advance(TimeSpan.FromMinutes(5));
        await AcquireUser("someone-new");

        Assert.That(_limiter.BucketCount, Is.EqualTo(1));
    }

    [Test]
    public async Task Sweep_KeepsBucketsThatAreNotFull_SoEvictionNeverGrantsExtraTokens()
    {
        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 1, UserBurst = 5 };
        for (var i = 0; i < 5; i++)
        {
            await AcquireUser("alice");
        }

        // Two tokens back after two minutes: idle long enough for a sweep, but not full.
        _clock.Advance(TimeSpan.FromMinutes(2));
        await AcquireUser("someone-else");
        var allowed = 0;
        for (var i = 0; i < 5; i++)
        {
            allowed += await AcquireUser("alice") ? 1 : 0;
        }

        Assert.That(allowed, Is.EqualTo(2));
    }

    [Test]
    public async Task GiveBack_AfterTheWholeBurst_AllowsExactlyOneMore()
    {
        await AcquireUser("alice");
        await AcquireUser("alice");

        await GiveBackUser("alice");

        Assert.That(await CountUser("alice", 5), Is.EqualTo(1));
    }

    [Test]
    public async Task GiveBack_ToAFullOrUnknownBucket_NeverRaisesItAboveTheBurst()
    {
        // alice's bucket is held and full again (10 s refills the one token taken); bob has none.
        await AcquireUser("alice");
        _clock.Advance(TimeSpan.FromSeconds(10));

        await GiveBackUser("alice");
        await GiveBackUser("bob");
        await GiveBackUser("bob");
        var bucketsAfterGivingBack = _limiter.BucketCount;
        var alice = await CountUser("alice", 5);
        var bob = await CountUser("bob", 5);

        Assert.Multiple(() =>
        {
            Assert.That(alice, Is.EqualTo(2), "alice: the burst of 2, not 3");
            Assert.That(bob, Is.EqualTo(2), "bob: the burst of 2, not 4");
            Assert.That(bucketsAfterGivingBack, Is.EqualTo(1), "a give-back to an unknown key keeps no bucket");
        });
    }

    [Test]
    public async Task GiveBack_WhileTheScopeIsUnlimited_ReturnsNothing()
    {
        await AcquireUser("alice");
        await AcquireUser("alice");

        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 0, UserBurst = 2 };
        await GiveBackUser("alice");
        _options.CurrentValue = new RateLimitOptions { PerUserPerMinute = 6, UserBurst = 2 };

        Assert.That(await AcquireUser("alice"), Is.False);
    }

    private async Task<int> CountUser(string key, int attempts)
    {
        var allowed = 0;
        for (var i = 0; i < attempts; i++)
        {
            allowed += await AcquireUser(key) ? 1 : 0;
        }

        return allowed;
    }

    private Task GiveBackUser(string key) =>
        _limiter.GiveBackAsync(RateLimitScope.User, key, CancellationToken.None).AsTask();

    private async Task<bool> AcquireUser(string key) =>
        (await _limiter.TryAcquireAsync(RateLimitScope.User, key, CancellationToken.None)).Allowed;
}
