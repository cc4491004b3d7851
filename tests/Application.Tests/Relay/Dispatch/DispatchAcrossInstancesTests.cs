using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Relay;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// Several API instances on the direct relay, each reaching only the hosts that dialled it: an instance no host
/// dialled leaves the queue to the one a host did, and a host that drops out of the list (its instance died, and it is
/// dialling this one) is waited for a moment, never told "no model host".
/// </summary>
public class DispatchAcrossInstancesTests : DispatchTestBase
{
    [Test]
    public async Task Dispatch_WhileEveryHostDialledAnotherInstance_ClaimsNothing_AndAnswersNothing()
    {
        var there = TestPorts.ReadyWorker();
        Ports.Reach = new InstanceReach();
        Ports.WorkersOnline(there);
        var request = Pending(model: null);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "the instance the host dialled dispatches it");
        Assert.That(StoredAnswers, Is.Zero, "no 'no model host' notice from an instance the host did not dial");
        Ports.Requests.Verify(r => r.ClaimPendingAsync(It.IsAny<int>(), It.IsAny<int>(), It.IsAny<DateTimeOffset>(),
            It.IsAny<DateTimeOffset>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never,
            "claiming only to give it back would cost a round trip, and a wake-up of the instance the host dialled");
    }

    [Test]
    public async Task AModelServedOnlyByAnotherInstancesHost_IsGivenBack_AndTheOtherInstancesDispatchersAreWoken()
    {
        // Theirs heard of the question when it was queued, and may have looked while this one held it.
        var (alpha, beta) = (TestPorts.Host(1, "alpha"), TestPorts.Host(1, "beta"));
        Ports.Reach = new InstanceReach(alpha.WorkerId);
        Ports.WorkersOnline(alpha, beta);
        var question = Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(question.Status, Is.EqualTo(RelayRequestStatus.Pending), "left to the instance beta dialled");
        Ports.QueueSignal.Verify(s => s.NotifyOthers(), Times.Once);
    }

    [Test]
    public async Task ABatchThisInstancesHostsTakeOrWaitFor_WakesNoOtherInstance()
    {
        var alpha = TestPorts.Host(1, "alpha");
        Ports.Reach = new InstanceReach(alpha.WorkerId);
        Ports.WorkersOnline(alpha, TestPorts.Host(1, "beta"));
        var taken = Pending("alpha");
        var waiting = Pending("alpha"); // one slot: it waits for alpha, here

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That((taken.Status, waiting.Status), Is.EqualTo((RelayRequestStatus.Dispatched, RelayRequestStatus.Pending)));
        Ports.QueueSignal.Verify(s => s.NotifyOthers(), Times.Never);
    }

    [Test]
    public async Task AModelServedOnlyByAnotherInstancesHost_ThatCameOnlineWhileTheHostsWereKept_IsLeftToIt_NotRefused()
    {
        // CI (the direct relay's two-instance API test): instance A kept its hosts list for Reuse, and with it the hosts
        // only other instances reach; nothing at A hears those hosts' heartbeats to set it aside, so a question for beta
        // in the second after beta dialled instance B was told "not served by any model host online now; online: alpha".
        var (alpha, beta) = (TestPorts.Host(1, "alpha"), TestPorts.Host(1, "beta"));
        Ports.Reach = new InstanceReach(alpha.WorkerId);
        Ports.WorkersOnline(alpha);
        var earlier = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Ports.WorkersOnline(alpha, beta); // beta dialled the other instance: only its heartbeats list it here
        Ports.Clock.Set(ModelHosts.Reuse.TotalSeconds / 2);
        var question = Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var withTheKeptHosts = (question.Status, StoredAnswers);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        await using var placement = await Ports.Hosts.PlaceAsync(Ports.Requests.Object, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(earlier.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "alpha's hosts list was read and kept");
            Assert.That(withTheKeptHosts, Is.EqualTo((RelayRequestStatus.Pending, 0)),
                "the kept hosts may miss one another instance reaches: no 'not served' from them");
            Assert.That(question.Status, Is.EqualTo(RelayRequestStatus.Pending), "left to the instance beta dialled");
            Assert.That(StoredAnswers, Is.Zero);
            Assert.That(placement.ServedElsewhere("beta", tools: false, images: false), Is.True,
                "the next look read the hosts afresh, within the Reuse, and found beta at the other instance");
        });
    }

    [Test]
    public async Task AHostWhoseInstanceDied_IsWaitedFor_WhileItDialsThisOne_ThenNoHostIsTold()
    {
        var there = TestPorts.ReadyWorker();
        Ports.Reach = new InstanceReach();
        Ports.WorkersOnline(there);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Ports.WorkersOnline(); // its heartbeats stopped with the instance it was connected to
        var request = Pending(model: null);
        Ports.Clock.Set(1);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var whileItDials = request.Status;
        Ports.Clock.Set(2 + Ports.RelayOptions.LateHostGrace.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(whileItDials, Is.EqualTo(RelayRequestStatus.Pending), "a host known a moment ago may be dialling here");
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback), "past the late-host grace: no host is online");
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
    }
}
