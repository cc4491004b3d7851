using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Tests.Builders;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// Two server bots tell each other of the outages of the way to the hosts they meet (<see cref="IRelayPeerOutages"/>):
/// one whose own calls worked still holds the hosts' silence and deadlines through its peer's outage.
/// </summary>
public sealed class PeerOutagesTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(10);

    private FakeClock _clock = null!;
    private Peers _peers = null!;
    private RelayTransportHealth _health = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new FakeClock();
        _peers = new Peers();
        _health = new RelayTransportHealth(_clock, new ListeningFromTheStart(), _peers);
    }

    [Test]
    public void APeersOutageUnderWay_HidesTheHosts_ThoughThisProcessCallsWork()
    {
        _clock.Set(100);
        _health.Reachable();
        Assert.That(_health.HidesHosts(Window, Cap), Is.False, "nothing out");

        _peers.Tell(new RelayOutageReport("peer", Moments.At(98), null));

        Assert.Multiple(() =>
        {
            Assert.That(_health.HidesHosts(Window, Cap), Is.True, "the peer's outage hides the hosts");
            Assert.That(_health.IsOut(Cap), Is.False, "but this process's own calls work: it is not out");
        });
    }

    [Test]
    public void APeersOutageThatEnded_HidesTheHosts_ForTheHeartbeatWindowAndCatchUp_AfterItsEndIsHeard()
    {
        _clock.Set(100);
        _peers.Tell(new RelayOutageReport("peer", Moments.At(90), Moments.At(100)));

        _clock.Set(100 + Window.TotalSeconds + 1.9);
        Assert.That(_health.HidesHosts(Window, Cap, TimeSpan.FromSeconds(2)), Is.True, "within the window and the hosts' catch-up");
        _clock.Set(100 + Window.TotalSeconds + 2.1);
        Assert.That(_health.HidesHosts(Window, Cap, TimeSpan.FromSeconds(2)), Is.False, "after them");
    }

    [Test]
    public void ThePeersOutage_StopsTheHostsClock_AndOverlappingOwnOutages_CountOnce()
    {
        _clock.Set(100);
        _health.Reachable();
        _clock.Set(104);
        _health.Reachable();
        _health.Unreachable(TimeSpan.Zero); // out from 104 to 110 here
        _clock.Set(110);
        _health.Reachable();
        _peers.Tell(new RelayOutageReport("peer", Moments.At(102), Moments.At(108))); // 102 to 108 there
        _clock.Set(120);

        Assert.That(_health.HeldSince(Moments.At(100), Moments.At(120), Cap), Is.EqualTo(TimeSpan.FromSeconds(8)),
            "102 to 110: the two outages' union, each moment once");
    }

    [Test]
    public void APeersReportNotRepeated_EndsWhenLastHeard()
    {
        _clock.Set(100);
        _peers.Tell(new RelayOutageReport("peer", Moments.At(99), null));
        _clock.Set(102);
        _peers.Tell(new RelayOutageReport("peer", Moments.At(99), null));

        _clock.Set(102 + PeerOutagesSeen.ReportLife.TotalSeconds - 0.1);
        Assert.That(_health.HidesHosts(Window, TimeSpan.FromSeconds(60)), Is.True, "repeated two seconds ago: under way");

        // The peer died mid-outage: its outage ended, for this process, when it was last heard from.
        _clock.Set(200);
        Assert.Multiple(() =>
        {
            Assert.That(_health.HidesHosts(Window, Cap), Is.False);
            Assert.That(_health.HeldSince(Moments.At(90), Moments.At(200), Cap), Is.EqualTo(TimeSpan.FromSeconds(3)),
                "99 to 102");
        });
    }

    [Test]
    public void ReportsFarOffThisProcessesClock_AreIgnored()
    {
        _clock.Set(10_000);
        _peers.Tell(new RelayOutageReport("peer", Moments.At(10_000 + 3_600), null));
        _peers.Tell(new RelayOutageReport("peer", Moments.At(10_000 - 2 * 3_600), null));
        _peers.Tell(new RelayOutageReport("peer", Moments.At(9_990), Moments.At(9_980)));

        Assert.Multiple(() =>
        {
            Assert.That(_health.HidesHosts(Window, Cap), Is.False);
            Assert.That(_health.HeldSince(Moments.At(0), Moments.At(10_000), Cap), Is.EqualTo(TimeSpan.Zero));
        });
    }

    [Test]
    public void ThisProcessesOutage_IsReported_RepeatedAtMostEverySecond_AndItsEnd()
    {
        _clock.Set(100);
        _health.Reachable();
        _clock.Set(101);
        _health.Unreachable(TimeSpan.FromMilliseconds(500));
        _clock.Set(101.5);
        _health.Unreachable(TimeSpan.Zero);
        _clock.Set(102.1);
        _health.Unreachable(TimeSpan.Zero);
        _clock.Set(103);
        _health.Reachable();

        Assert.That(_peers.Reported, Is.EqualTo(new (DateTimeOffset, DateTimeOffset?)[]
        {
            (Moments.At(100), null), // since the last call that was answered
            (Moments.At(100), null),
            (Moments.At(100), Moments.At(103)),
        }));
    }

    private sealed class Peers : IRelayPeerOutages
    {
        private Action<RelayOutageReport>? _listener;

        public List<(DateTimeOffset, DateTimeOffset?)> Reported { get; } = [];

        public void Report(DateTimeOffset downSince, DateTimeOffset? upAt) => Reported.Add((downSince, upAt));

        public void Listen(Action<RelayOutageReport> listener) => _listener += listener;

        public void Tell(RelayOutageReport report) => _listener!(report);
    }
}
