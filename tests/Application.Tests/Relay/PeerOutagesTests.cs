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
    public void APeersOutageThatEnded_HidesTheHosts_ForTheHeartbeatWindowAndTheCatchUpItReported_AfterItsEndIsHeard()
    {
        // This process relays nothing itself (an API instance: its own hosts' catch-up is none); the server bot that met
        // the outage says how long its hosts' retries may still back off after it (a clean-clone CI run refused four
        // completions "no model host" just after a REST outage: the API instance held the hosts for the heartbeat
        // window only, while the client bot was still waiting out its back-off).
        _clock.Set(100);
        _peers.Tell(new RelayOutageReport("peer", Moments.At(90), Moments.At(100), TimeSpan.FromSeconds(2)));

        _clock.Set(100 + Window.TotalSeconds + 1.9);
        Assert.That(_health.HidesHosts(Window, Cap), Is.True, "within the window and the hosts' catch-up");
        _clock.Set(100 + Window.TotalSeconds + 2.1);
        Assert.That(_health.HidesHosts(Window, Cap), Is.False, "after them");
    }

    [Test]
    public void APeerThatFellSilentMidOutage_HidesTheHosts_ForTheCatchUpItLastReported_AfterItsReportRanOut()
    {
        _clock.Set(100);
        _peers.Tell(new RelayOutageReport("peer", Moments.At(99), null, TimeSpan.FromSeconds(2)));
        var over = 100 + PeerOutagesSeen.ReportLife.TotalSeconds;

        _clock.Set(over + Window.TotalSeconds + 1.9);
        Assert.That(_health.HidesHosts(Window, Cap), Is.True, "counted over when its report ran out, then the catch-up");
        _clock.Set(over + Window.TotalSeconds + 2.1);
        Assert.That(_health.HidesHosts(Window, Cap), Is.False);
    }

    [Test]
    public void ThisProcessesOwnOutage_HidesTheHosts_ForItsOwnHostsCatchUp_AndTellsItToItsPeers()
    {
        var listening = new Listening(TimeSpan.FromSeconds(2));
        var health = new RelayTransportHealth(_clock, listening, _peers);
        _clock.Set(100);
        health.Unreachable(TimeSpan.Zero);
        _clock.Set(110);
        health.Reachable();

        _clock.Set(110 + Window.TotalSeconds + 1.9);
        Assert.That(health.HidesHosts(Window, Cap), Is.True, "within the window and the hosts' catch-up");
        _clock.Set(110 + Window.TotalSeconds + 2.1);
        Assert.That(health.HidesHosts(Window, Cap), Is.False, "after them");
        Assert.That(_peers.CatchUps, Is.EqualTo(new[] { TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2) }),
            "the outage and its end were told with the catch-up");
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

    private sealed class Listening(TimeSpan catchUp) : IRelayListening
    {
        public DateTimeOffset? Since => DateTimeOffset.MinValue;

        public TimeSpan HostsCatchUp => catchUp;
    }

    private sealed class Peers : IRelayPeerOutages
    {
        private Action<RelayOutageReport>? _listener;

        public List<(DateTimeOffset, DateTimeOffset?)> Reported { get; } = [];

        public List<TimeSpan> CatchUps { get; } = [];

        public void Report(DateTimeOffset downSince, DateTimeOffset? upAt, TimeSpan hostsCatchUp)
        {
            Reported.Add((downSince, upAt));
            CatchUps.Add(hostsCatchUp);
        }

        public void Listen(Action<RelayOutageReport> listener) => _listener += listener;

        public void Tell(RelayOutageReport report) => _listener!(report);
    }
}
