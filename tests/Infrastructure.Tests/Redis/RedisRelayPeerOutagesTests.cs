using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// Two server bots (each its own multiplexer) tell each other of the outages of the way to the hosts over the real
/// Redis: one whose own calls worked holds the hosts' silence and their deadlines through its peer's outage.
/// </summary>
public sealed class RedisRelayPeerOutagesTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Test]
    public async Task AnOutageOneBotMeets_HidesTheHostsFromTheOther_AndItsEndStopsTheirClockThereToo()
    {
        await using var redis = new RedisTestServer();
        using var seeing = Peers(await redis.ConnectedAsync(), redis);
        using var other = Peers(await redis.ConnectedAsync(), redis);
        var clock = new SystemClock();
        var met = new RelayTransportHealth(clock, new ListeningFromTheStart(), seeing);
        var told = new RelayTransportHealth(clock, new ListeningFromTheStart(), other);
        var window = TimeSpan.FromSeconds(1);
        var cap = TimeSpan.FromMinutes(10);

        // The subscription is made in the background: the outage is reported again every second while it lasts.
        var from = clock.UtcNow;
        var waited = Stopwatch.StartNew();
        while (!told.HidesHosts(window, cap))
        {
            Assert.That(waited.Elapsed, Is.LessThan(Patience), "the other bot never heard of the outage");
            met.Unreachable(TimeSpan.Zero);
            await Task.Delay(100);
        }

        Assert.That(told.IsOut(cap), Is.False, "its own calls work: it is not out itself");
        met.Reachable();
        var end = clock.UtcNow;
        waited.Restart();
        while (told.HeldSince(from, end, cap) < (end - from) * 0.5)
        {
            Assert.That(waited.Elapsed, Is.LessThan(Patience), "the other bot never heard the outage end");
            await Task.Delay(50);
        }

        Assert.That(told.HidesHosts(window, cap), Is.True, "just after the outage ended, a heartbeat window");
        Assert.That(met.HeldSince(from, end, cap), Is.EqualTo(told.HeldSince(from, end, cap)).Within(TimeSpan.FromMilliseconds(200)),
            "both hold the same outage on the hosts' clock");
    }

    [Test]
    public async Task AProcessHearsOnlyOthersReports_AndWhatIsNoReportIsIgnored()
    {
        await using var redis = new RedisTestServer();
        using var one = Peers(await redis.ConnectedAsync(), redis);
        using var two = Peers(await redis.ConnectedAsync(), redis);
        var heardByOne = new List<RelayOutageReport>();
        var heardByTwo = new List<RelayOutageReport>();
        one.Listen(r => { lock (heardByOne) { heardByOne.Add(r); } });
        two.Listen(r => { lock (heardByTwo) { heardByTwo.Add(r); } });

        var since = new DateTimeOffset(2026, 11, 25, 3, 0, 0, TimeSpan.Zero);
        var waited = Stopwatch.StartNew();
        while (Count(heardByTwo) == 0)
        {
            Assert.That(waited.Elapsed, Is.LessThan(Patience), "never heard");
            one.Report(since, since.AddSeconds(10), TimeSpan.FromSeconds(6.25));
            await Task.Delay(100);
        }

        // One's own reports went out on the same channel it listens to, as often as two heard them.
        await Task.Delay(300);
        Assert.Multiple(() =>
        {
            Assert.That(Count(heardByOne), Is.Zero, "its own reports are not heard back");
            var report = heardByTwo[0];
            Assert.That((report.DownSince, report.UpAt, report.HostsCatchUp),
                Is.EqualTo((since, (DateTimeOffset?)since.AddSeconds(10), TimeSpan.FromSeconds(6.25))));
            Assert.That(one.Read("x|1|"), Is.Not.Null, "a report from a version that told no catch-up");
            Assert.That(one.Read("x|1|")!.HostsCatchUp, Is.EqualTo(TimeSpan.Zero));
            Assert.That(one.Read("x|1|2|3")!.HostsCatchUp, Is.EqualTo(TimeSpan.FromTicks(3)));
            Assert.That(one.Read("x|1"), Is.Null);
            Assert.That(one.Read("x|-1|"), Is.Null);
            Assert.That(one.Read("x|1|2|-3"), Is.Null);
            Assert.That(one.Read("x|1|2|y"), Is.Null);
            Assert.That(one.Read("x|1|2|3|4"), Is.Null);
            Assert.That(one.Read("x|1|y"), Is.Null);
            Assert.That(one.Read("|1|"), Is.Null);
            Assert.That(one.Read($"x|{long.MaxValue}|"), Is.Null);
        });
    }

    private static int Count(List<RelayOutageReport> heard)
    {
        lock (heard)
        {
            return heard.Count;
        }
    }

    private static RedisRelayPeerOutages Peers(RedisConnection connection, RedisTestServer redis) =>
        new(connection, new RedisOutages(redis.MeterFactory, NullLogger<RedisOutages>.Instance));
}
