using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Relay.Dispatch;
using MeatLizard.Application.Relay.Outcomes;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// No wake-up is lost to a dispatch that holds requests claimed: a dispatcher woken meanwhile finds them claimed, and
/// goes back to sleep until its slow poll (Relay:PollInterval: 20 s in the fault suite's cluster, where the queue stood
/// still 17–19 s after llama-server's restart in CI).
/// </summary>
public class DispatchWakeTests : DispatchTestBase
{
    [Test]
    public async Task ASlotFreedWhileTheRequestsWaitingForItWereClaimed_WakesTheDispatcherOnceTheyAreGivenBack()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "alpha"));
        var running = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(running.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "the host's one slot");

        var waiting = Pending("alpha");
        // The dispatch claims the waiting one, finds the slot taken, and gives it back; as it does, the running one ends.
        WhileGivingBack(async () =>
        {
            await EndOnItsHostAsync(running);
            WokenInVain();
        });
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(waiting.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once,
            "woken again now that the request is claimable: the slot is free");
    }

    [Test]
    public async Task NoNewsWhileTheyWereClaimed_NoWakeUpOnceTheyAreGivenBack()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "alpha"));
        Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Pending("alpha");
        Ports.QueueSignal.Invocations.Clear();

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Never, "nothing changed: the next news wakes it");
        Assert.That(Wakes.SlotsAwaited, Is.True, "a slot that frees wakes the dispatcher");
    }

    [Test]
    public async Task ADispatchThatClaimedBeforeOthersWereGivenBack_PlacingAllOfItsOwn_DoesNotForgetThemWaiting()
    {
        // Two dispatches side by side: the first gives back an alpha request for want of a slot while the second, which
        // claimed before that, places its own beta request. The alpha one still waits for a slot: the next to free wakes
        // the dispatcher for it.
        var (alpha, beta) = (TestPorts.Host(1, "alpha"), TestPorts.Host(1, "beta"));
        Ports.WorkersOnline(alpha, beta);
        var running = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var waiting = Pending("alpha");
        var placed = Pending("beta");

        var claims = 0;
        Ports.Requests.Setup(r => r.ClaimPendingAsync(It.IsAny<int>(), It.IsAny<int>(), It.IsAny<DateTimeOffset>(),
                It.IsAny<DateTimeOffset>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() =>
            {
                var only = ++claims == 1 ? waiting : placed;
                return (IReadOnlyList<ClaimedRequest>)Ports.Claim(16, 10).Where(c => c.Request == only).ToList();
            });
        Task? second = null;
        WhileGivingBack(() =>
        {
            // The second dispatch claims now, before the give-back, and places once the first has stored its batch.
            second ??= Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
            return Task.CompletedTask;
        });
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        await second!;

        Assert.That(placed.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(waiting.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(Wakes.SlotsAwaited, Is.True, "the alpha request still waits for a slot");

        Ports.QueueSignal.Invocations.Clear();
        await EndOnItsHostAsync(running);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "the alpha host's slot came free: the dispatcher looks");
    }

    [Test]
    public async Task ADispatchThatClaimedAfterTheyWereGivenBack_AndPlacedAll_EndsTheWait()
    {
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var running = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var waiting = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(Wakes.SlotsAwaited, Is.True);

        await EndOnItsHostAsync(running);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(waiting.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(Wakes.SlotsAwaited, Is.False, "nothing waits: an answer that ends wakes nobody");
        Ports.QueueSignal.Invocations.Clear();
        await EndOnItsHostAsync(waiting);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Never);
    }

    [Test]
    public async Task ItsHostsEngineBackWhileTheRequestWaitingForItWasClaimed_WakesTheDispatcherOnceItIsGivenBack()
    {
        // kill -9 of llama-server: the host says its engine is starting again, and what waits stays in the queue.
        Ports.WorkersOnline(TestPorts.RestartingWorker());
        var waiting = Request(RelayRequestStatus.Pending);
        // The heartbeat that says the engine is back comes as the dispatch gives the request back.
        NewsWhileGivingBack();

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(waiting.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "woken again now that the request is claimable");
    }

    [Test]
    public async Task HeldForALateHost_ItsHeartbeatWhileTheyWereClaimed_WakesTheDispatcherOnceTheyAreGivenBack()
    {
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Ports.WorkersOnline();
        Ports.Clock.Set(ModelHosts.Reuse.TotalSeconds + 1);
        var held = Pending("alpha");
        NewsWhileGivingBack();

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(held.Status, Is.EqualTo(RelayRequestStatus.Pending), "held: the host was there a moment ago");
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "woken again now that the request is claimable");
    }

    /// <summary>Runs <paramref name="meanwhile"/> as a dispatch gives claimed requests back, before they are claimable.</summary>
    private void WhileGivingBack(Func<Task> meanwhile) =>
        Ports.Requests.Setup(r => r.ReleaseClaimsAsync(It.IsAny<IReadOnlyCollection<RelayRequestId>>(), It.IsAny<CancellationToken>()))
            .Returns(meanwhile);

    /// <summary>
    /// The next give-back of claims meets news (<see cref="QueueWakes.News"/>, as a host's heartbeat that says it takes
    /// work again).
    /// </summary>
    private void NewsWhileGivingBack() => WhileGivingBack(() =>
    {
        Wakes.News();
        WokenInVain();
        return Task.CompletedTask;
    });

    /// <summary>Whatever the dispatcher was woken for so far found the requests claimed: those wake-ups are not counted.</summary>
    private void WokenInVain() => Ports.QueueSignal.Invocations.Clear();

    private QueueWakes Wakes => Ports.Relay<QueueWakes>();

    /// <summary>The request's answer stored as its host's outcome would be: its slot comes free.</summary>
    private async Task EndOnItsHostAsync(RelayRequest request)
    {
        var read = request.Status;
        request.Acknowledge(Ports.Clock.UtcNow);
        request.Complete(MessageId.New(), Ports.Clock.UtcNow);
        Assert.That(await Ports.Relay<OutcomeStore>().StoreAsync(request, read, null, CancellationToken.None), Is.True);
    }
}
