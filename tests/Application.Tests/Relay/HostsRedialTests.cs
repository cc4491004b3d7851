using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// Hosts that dial the relay (the direct relay) lose their way to it when it stops, and come back at their next try:
/// after the relay's start their silence says nothing for that long and a heartbeat window (a restarted API instance
/// answered every question "no model host" in the seconds before its host dialled again).
/// </summary>
public sealed class HostsRedialTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Redial = TimeSpan.FromSeconds(37.5);

    [Test]
    public void AfterAStart_HostsThatRedial_AreHiddenForTheirRedialAndAHeartbeatWindow()
    {
        var clock = new FakeClock();
        clock.Set(100);
        var health = new RelayTransportHealth(clock, new Listening(Moments.At(100), Redial));

        clock.Set(100 + Redial.TotalSeconds + Window.TotalSeconds - 0.1);
        var within = health.HidesHosts(Window, Cap);
        clock.Set(100 + Redial.TotalSeconds + Window.TotalSeconds + 0.1);
        var after = health.HidesHosts(Window, Cap);

        Assert.That(within, Is.True, "a live host may still be dialling again");
        Assert.That(after, Is.False, "every live host has dialled again and sent a heartbeat");
        Assert.That(health.IsOut(Cap), Is.False, "nothing holds the queue: a host that dials in takes work at once");
    }

    [Test]
    public void AfterAStart_HostsWhoseWayOutlivesTheRelay_AreHiddenForAHeartbeatWindowOnly()
    {
        var clock = new FakeClock();
        clock.Set(100);
        var health = new RelayTransportHealth(clock, new Listening(Moments.At(100), TimeSpan.Zero));

        clock.Set(100 + Window.TotalSeconds + 0.1);

        Assert.That(health.HidesHosts(Window, Cap), Is.False);
    }

    [Test]
    public void AnOutageTheRelaySaw_EndsWhenAHostIsBack_WithNoRedialOnTop()
    {
        // The direct relay's own outage (every host cut off) ends when a host dials again: that host is back already.
        var clock = new FakeClock();
        clock.Set(100);
        var health = new RelayTransportHealth(clock, new Listening(Moments.At(100), Redial));
        clock.Set(200);
        health.Reachable();
        health.Unreachable(TimeSpan.Zero);
        clock.Set(210);
        var during = health.HidesHosts(Window, Cap);
        health.Reachable();
        clock.Set(210 + Window.TotalSeconds + 0.1);

        Assert.That(during, Is.True);
        Assert.That(health.HidesHosts(Window, Cap), Is.False, "a heartbeat window after the host is back");
        Assert.That(health.HeldSince(Moments.At(190), Moments.At(220), Cap), Is.EqualTo(TimeSpan.FromSeconds(10)),
            "deadlines stood still while it was cut off");
    }

    private sealed class Listening(DateTimeOffset since, TimeSpan redial) : IRelayListening
    {
        public DateTimeOffset? Since => since;

        public TimeSpan HostsRedialAfterStart => redial;
    }
}
