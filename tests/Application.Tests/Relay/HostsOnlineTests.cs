using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Tests.Builders;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// What a question is checked against before it is taken: a host the presence store no longer lists still counts while
/// it may only be hidden (the way to it out, its heartbeats with it) or late (a heartbeat lost with a restarted Redis) —
/// as the dispatcher waits for it — and no longer once that cannot be.
/// </summary>
public sealed class HostsOnlineTests
{
    private static readonly RelayOptions Options = new()
    {
        WorkerTimeout = TimeSpan.FromSeconds(20), AckTimeout = TimeSpan.FromSeconds(10),
    };

    private FakeClock _clock = null!;
    private Mock<IHostPresence> _presence = null!;
    private RelayTransportHealth _health = null!;
    private HostsOnline _online = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new FakeClock();
        _presence = new Mock<IHostPresence>();
        _health = new RelayTransportHealth(_clock, new ListeningFromTheStart());
        var way = new RelayWay(_health, Mock.Of<IRelayReachability>(), _clock, Microsoft.Extensions.Options.Options.Create(Options));
        _online = new HostsOnline(_presence.Object, way, _clock, Microsoft.Extensions.Options.Options.Create(Options));
        _clock.Set(1_000); // long after the start: the hosts' silence would say something
        _health.Reachable();
    }

    [Test]
    public async Task AHostTheStoreLost_CountsForTheLateHostGraceAfterItWentStale_ThenNoLonger()
    {
        var host = Heard(TestPorts.ReadyWorker(), at: 1_000);
        Listed(host);
        Assert.That(await ListAsync(), Is.EqualTo(new[] { host.WorkerId }));

        Listed(); // Redis restarted: the store is empty until the host's next heartbeat
        _clock.Set(1_000 + 20 + 20 - 0.5); // the worker timeout, then the grace (the longer of it and the ack timeout)
        Assert.That(await ListAsync(), Is.EqualTo(new[] { host.WorkerId }), "late, not gone: its question waits for it");

        _clock.Set(1_000 + 20 + 20 + 0.5);
        Assert.That(await ListAsync(), Is.Empty, "silent past the worker timeout and the grace: gone");
    }

    [Test]
    public async Task WhileTheWayIsOut_AHostListedBefore_CountsHoweverLongAgoItWasHeard()
    {
        var host = Heard(TestPorts.ReadyWorker(), at: 1_000);
        Listed(host);
        await ListAsync();

        _clock.Set(1_005);
        _health.Unreachable(TimeSpan.Zero); // Discord REST fails: the heartbeats cannot come
        Listed();
        _clock.Set(1_200);
        Assert.That(await ListAsync(), Is.EqualTo(new[] { host.WorkerId }), "hidden by the outage");

        _health.Reachable();
        _clock.Set(1_200 + 2 * 20 + 1); // back for longer than the heartbeat window, and still not heard
        Assert.That(await ListAsync(), Is.Empty, "the way works and the host stays silent: gone");
    }

    [Test]
    public async Task AHostThatSaysItTakesNoWork_CountsAsThatAtOnce_AndANewOneIsAdded()
    {
        var host = Heard(TestPorts.ReadyWorker(), at: 1_000);
        Listed(host);
        await ListAsync();

        var draining = host with { Draining = true, SeenAt = Moments.At(1_001) };
        var other = Heard(TestPorts.ReadyWorker(), at: 1_001);
        Listed(draining, other);
        _clock.Set(1_001);

        var online = await _online.ListAsync(CancellationToken.None);
        Assert.Multiple(() =>
        {
            Assert.That(online, Has.Count.EqualTo(2));
            Assert.That(online.Single(h => h.WorkerId == host.WorkerId).Accepts, Is.False, "the store's word, not the memory's");
            Assert.That(online.Single(h => h.WorkerId == other.WorkerId).Accepts, Is.True);
        });
    }

    [Test]
    public async Task NothingListedBefore_NothingCounts_EvenWhileTheWayIsOut()
    {
        _health.Unreachable(TimeSpan.Zero);
        Listed();

        Assert.That(await ListAsync(), Is.Empty, "a host never seen here is not invented");
    }

    private static HostHealth Heard(HostHealth host, double at) => host with { SeenAt = Moments.At(at) };

    private void Listed(params HostHealth[] hosts) =>
        _presence.Setup(p => p.ListAliveAsync(It.IsAny<CancellationToken>())).ReturnsAsync(hosts);

    private async Task<Guid[]> ListAsync() =>
        (await _online.ListAsync(CancellationToken.None)).Where(h => h.Accepts).Select(h => h.WorkerId).ToArray();
}
