using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay;

public sealed class MemoryReplayGuardTests
{
    private static readonly TimeSpan s_ttl = TimeSpan.FromMinutes(10);

    [Test]
    public async Task TryRegister_SameKeyWithinTtl_IsRefusedTheSecondTime()
    {
        var guard = RelayTestKit.Guard(new TestClock(RelayTestKit.Now));

        var first = await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);
        var second = await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);
        var other = await guard.TryRegisterAsync("b", s_ttl, CancellationToken.None);

        Assert.That((first, second, other), Is.EqualTo((true, false, true)));
    }

    [Test]
    public async Task TryRegister_SameKeyAfterItsTtl_IsAcceptedAgain()
    {
        var clock = new TestClock(RelayTestKit.Now);
        var guard = RelayTestKit.Guard(clock);
        await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);

        clock.Advance(s_ttl - TimeSpan.FromSeconds(1));
        var justBefore = await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));
        var atExpiry = await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);

        Assert.That(justBefore, Is.False);
        Assert.That(atExpiry, Is.True);
    }

    [Test]
    public async Task WasSeen_IsTrueOnlyWhileARegisteredKeyLives_AndRegistersNothing()
    {
        var clock = new TestClock(RelayTestKit.Now);
        var guard = RelayTestKit.Guard(clock);

        var before = await guard.WasSeenAsync("a", CancellationToken.None);
        var stillFirst = await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);
        var during = await guard.WasSeenAsync("a", CancellationToken.None);
        clock.Advance(s_ttl);
        var expired = await guard.WasSeenAsync("a", CancellationToken.None);

        Assert.That((before, stillFirst, during, expired), Is.EqualTo((false, true, true, false)));
    }

    [Test]
    public async Task Sweep_RemovesOnlyExpiredEntries()
    {
        var clock = new TestClock(RelayTestKit.Now);
        var guard = RelayTestKit.Guard(clock);
        await guard.TryRegisterAsync("short", TimeSpan.FromMinutes(1), CancellationToken.None);
        await guard.TryRegisterAsync("long", s_ttl, CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(2));

        var removed = guard.SweepExpired();

        Assert.That(removed, Is.EqualTo(1));
        Assert.That(guard.Count, Is.EqualTo(1));
        Assert.That(await guard.TryRegisterAsync("long", s_ttl, CancellationToken.None), Is.False);
    }

    [Test]
    public async Task WhenFull_NewKeysAreRefused_UntilExpiredEntriesAreSwept()
    {
        var clock = new TestClock(RelayTestKit.Now);
        var guard = RelayTestKit.Guard(clock, capacity: 2);
        await guard.TryRegisterAsync("a", s_ttl, CancellationToken.None);
        await guard.TryRegisterAsync("b", s_ttl, CancellationToken.None);

        var whileFull = await guard.TryRegisterAsync("c", s_ttl, CancellationToken.None);
        clock.Advance(s_ttl);
        var afterExpiry = await guard.TryRegisterAsync("c", s_ttl, CancellationToken.None);

        Assert.That(whileFull, Is.False);
        Assert.That(afterExpiry, Is.True);
        Assert.That(guard.Count, Is.LessThanOrEqualTo(2));
    }

    [Test]
    public async Task Count_StaysBoundedUnderSustainedTraffic()
    {
        var clock = new TestClock(RelayTestKit.Now);
        var guard = RelayTestKit.Guard(clock, capacity: 1000);

        var accepted = 0;
        for (var i = 0; i < 10_000; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100)); // 10/s with a 10 s TTL: about 100 live keys
            accepted += await guard.TryRegisterAsync($"k{i}", TimeSpan.FromSeconds(10), CancellationToken.None) ? 1 : 0;
        }

        guard.SweepExpired();
        Assert.That(accepted, Is.EqualTo(10_000));
        Assert.That(guard.Count, Is.LessThanOrEqualTo(101));
    }

    [Test]
    public async Task FiveMinutesOfEnvelopesAtAThousandASecond_AreHeldInUnder100BytesEach()
    {
        // Keys as the envelope cipher makes them, 1 ms apart, all still live. Held as strings in a ConcurrentDictionary
        // they took about 183 bytes each, in two objects per key that every collection of the young generation carried
        // into the old (promoted, then found again through the dictionary's buckets).
        const int keys = 300_000;
        var clock = new TestClock(RelayTestKit.Now);
        var guard = RelayTestKit.Guard(clock);
        var request = Guid.NewGuid();
        var before = GC.GetTotalMemory(forceFullCollection: true);

        for (var i = 0; i < keys; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.That(await guard.TryRegisterAsync($"{request:N}:answer:{i}", s_ttl, CancellationToken.None), Is.True);
        }

        var bytesPerKey = (GC.GetTotalMemory(forceFullCollection: true) - before) / (double)keys;
        GC.KeepAlive(guard);
        Assert.That(guard.Count, Is.EqualTo(keys));
        TestContext.Out.WriteLine($"{bytesPerKey:0} bytes a key");
        Assert.That(bytesPerKey, Is.LessThan(100), $"{bytesPerKey:0} bytes a key");
    }

    [Test]
    public async Task TryRegister_ConcurrentlyForOneKey_AcceptsExactlyOnce()
    {
        var guard = RelayTestKit.Guard(new TestClock(RelayTestKit.Now));

        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ =>
            Task.Run(async () => await guard.TryRegisterAsync("same", s_ttl, CancellationToken.None))));

        Assert.That(results.Count(r => r), Is.EqualTo(1));
    }
}
