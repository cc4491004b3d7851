using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public class ModelHostsTests
{
    private Mock<IHostPresence> _presence = null!;
    private FakeClock _clock = null!;
    private ModelHosts _availability = null!;

    [SetUp]
    public void SetUp()
    {
        _presence = new Mock<IHostPresence>();
        _clock = new FakeClock();
        _availability = new ModelHosts(_presence.Object, _clock);
    }

    [Test]
    public async Task AWorkerThatAccepts_IsReusedForASecond_WithoutListingAgain()
    {
        Online(TestPorts.ReadyWorker());

        var first = await AnyAcceptsAsync();
        Online(); // gone from the store; the kept answer still holds for a second
        _clock.Set(0.9);
        var withinReuse = await AnyAcceptsAsync();

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.True);
            Assert.That(withinReuse, Is.True);
            _presence.Verify(p => p.ListAliveAsync(It.IsAny<CancellationToken>()), Times.Once);
        });
    }

    [Test]
    public async Task AHostThatComesToTakeTools_IsPlacedByItAtOnce_NotAfterTheReuse()
    {
        var host = TestPorts.ReadyWorker() with { SeenAt = _clock.UtcNow };
        Online(host);
        _availability.NoteHeartbeat(host, null, TimeSpan.FromSeconds(5)); // heard already: the next is no news by itself
        var before = await _availability.PlaceAsync(Mock.Of<IRelayRequestRepository>(), CancellationToken.None);
        var tools = host with { TakesTools = true };
        Online(tools);

        _availability.NoteHeartbeat(tools, null, TimeSpan.FromSeconds(5));
        await using var after = await _availability.PlaceAsync(Mock.Of<IRelayRequestRepository>(), CancellationToken.None);
        await before.DisposeAsync();

        Assert.That((before.AnyServes(null, tools: true), after.AnyServes(null, tools: true)), Is.EqualTo((false, true)),
            "the heartbeat that says so is heard within the second the hosts are kept");
    }

    [Test]
    public async Task AHostWhoseEngineIsNoLongerReady_IsNotPlacedOnAtOnce_NotAfterTheReuse()
    {
        var host = TestPorts.ReadyWorker() with { SeenAt = _clock.UtcNow };
        Online(host);
        _availability.NoteHeartbeat(host, null, TimeSpan.FromSeconds(5));
        var before = await _availability.PlaceAsync(Mock.Of<IRelayRequestRepository>(), CancellationToken.None);
        await before.DisposeAsync();
        var notReady = host with { EngineReady = false };
        Online(notReady);

        _availability.NoteHeartbeat(notReady, null, TimeSpan.FromSeconds(5));
        await using var after = await _availability.PlaceAsync(Mock.Of<IRelayRequestRepository>(), CancellationToken.None);

        Assert.That((before.Hosts.Count, after.Hosts.Count), Is.EqualTo((1, 0)),
            "the heartbeat that says its engine is not ready is heard within the second the hosts are kept");
    }

    [Test]
    public async Task AHostThatComesToSayItsSlots_IsPlacedByThemAtOnce_NotAfterTheReuse()
    {
        // A host's first heartbeat may say nothing of its slots (CI: an API test's one-slot host was sent a second and a
        // third request within the second its first heartbeat was kept, while the API already listed its one slot).
        var host = TestPorts.ReadyWorker() with { SeenAt = _clock.UtcNow };
        Online(host);
        _availability.NoteHeartbeat(host, null, TimeSpan.FromSeconds(5));
        await (await _availability.PlaceAsync(Mock.Of<IRelayRequestRepository>(), CancellationToken.None)).DisposeAsync();
        var oneSlot = host with { Slots = 1 };
        Online(oneSlot);
        var requests = new Mock<IRelayRequestRepository>();
        requests.Setup(r => r.CountInFlightByHostAsync(It.IsAny<CancellationToken>()))
            .ReturnsAsync([new InFlightCount(host.WorkerId, null, 1)]);

        _availability.NoteHeartbeat(oneSlot, null, TimeSpan.FromSeconds(5));
        await using var after = await _availability.PlaceAsync(requests.Object, CancellationToken.None);

        Assert.That(after.Take(null), Is.Null, "its one slot is taken: the request waits at the server");
    }

    [Test]
    public void OneHostDraining_LeavesTheOtherKnown_SoQuestionsWaitForItsLateHeartbeat()
    {
        var window = TimeSpan.FromSeconds(3);
        var (alpha, beta) = (TestPorts.ReadyWorker(), TestPorts.ReadyWorker());
        _availability.NoteHeartbeat(alpha with { SeenAt = _clock.UtcNow }, null, window);
        _availability.NoteHeartbeat(beta with { SeenAt = _clock.UtcNow }, null, window);
        _clock.Set(1);
        _availability.NoteHeartbeat(beta with { SeenAt = _clock.UtcNow, Draining = true }, null, window);
        var whileAlphaMayBeLate = _availability.KnewAHostWithin(window);
        _availability.NoteHeartbeat(alpha with { SeenAt = _clock.UtcNow, Draining = true }, null, window);

        Assert.Multiple(() =>
        {
            Assert.That(whileAlphaMayBeLate, Is.True, "alpha, heard a second ago, still counts: its next heartbeat may be late");
            Assert.That(_availability.KnewAHostWithin(window), Is.False, "once both drain, nothing waits for either");
        });
    }

    [Test]
    public void AHostThatTookWork_IsLate_FromTwoHeartbeatsOfSilence_UntilTwoWorkerTimeouts()
    {
        // While it is late the way is asked each second: an outage its silence may be is then noted while it lasts.
        var (heartbeat, timeout) = (TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20));
        var (working, draining) = (TestPorts.ReadyWorker(), TestPorts.ReadyWorker());
        _availability.NoteHeartbeat(working with { SeenAt = _clock.UtcNow }, null, timeout);
        _availability.NoteHeartbeat(draining with { SeenAt = _clock.UtcNow, Draining = true }, null, timeout);

        var onTime = _availability.AHostIsLate(heartbeat, timeout);
        _clock.Set(11);
        var late = _availability.AHostIsLate(heartbeat, timeout);
        _clock.Set(39);
        var stillLate = _availability.AHostIsLate(heartbeat, timeout);
        _clock.Set(41);
        var gone = _availability.AHostIsLate(heartbeat, timeout);

        Assert.That((onTime, late, stillLate, gone), Is.EqualTo((false, true, true, false)),
            "a host that said it takes no more work is never waited for; one that took work is, for a while");
    }

    [Test]
    public async Task AfterTheReuse_TheStoreIsAskedAgain()
    {
        Online(TestPorts.ReadyWorker());
        await AnyAcceptsAsync();
        Online();
        _clock.Set(ModelHosts.Reuse.TotalSeconds);

        Assert.That(await AnyAcceptsAsync(), Is.False);
        _presence.Verify(p => p.ListAliveAsync(It.IsAny<CancellationToken>()), Times.Exactly(2));
    }

    [Test]
    public async Task NoAcceptingWorker_IsNeverKept_AWorkerThatComesOnlineIsUsedAtOnce()
    {
        Online(TestPorts.ReadyWorker(draining: true), TestPorts.ReadyWorker(ready: false));

        var before = await AnyAcceptsAsync();
        Online(TestPorts.ReadyWorker());
        var after = await AnyAcceptsAsync();

        Assert.Multiple(() =>
        {
            Assert.That(before, Is.False);
            Assert.That(after, Is.True);
        });
    }

    [Test]
    public async Task AWorkerStillLoadingItsModel_Accepts()
    {
        Online(TestPorts.ReadyWorker(ready: false, loading: true));

        Assert.That(await AnyAcceptsAsync(), Is.True);
    }

    /// <summary>Whether a dispatch would find a host that accepts requests.</summary>
    private async Task<bool> AnyAcceptsAsync()
    {
        await using var placement = await _availability.PlaceAsync(Mock.Of<IRelayRequestRepository>(), CancellationToken.None);
        return placement.Hosts.Count > 0;
    }

    private void Online(params HostHealth[] workers) =>
        _presence.Setup(p => p.ListAliveAsync(It.IsAny<CancellationToken>())).ReturnsAsync(workers);
}
