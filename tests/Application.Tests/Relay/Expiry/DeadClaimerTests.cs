using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Relay.Dispatch;
using MeatLizard.Domain.Tests.Builders;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// The claims of a dispatcher run known to be dead go back to the queue at once: a server bot killed mid-dispatch left
/// the fault suite's queue standing still for its whole lease (Relay:DispatchLease, 10 s there, 30 s by default).
/// </summary>
public class DeadClaimerTests : ExpiryTestBase
{
    [Test]
    public async Task ClaimsOfARunKnownToBeDead_GoBackAtOnce_AndWakeTheDispatchers()
    {
        var dead = DutyHolders.ThisRun();
        DutyHolders.Ended(dead); // a run of this process that ended, as a killed process of this machine is dead
        Ports.Clock.Set(5);
        Ports.Requests.Setup(r => r.ListClaimsHeldAsync(Moments.At(5), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new HeldClaims(dead, Moments.At(15))]);
        Ports.Requests.Setup(r => r.ReleaseClaimsOfAsync(dead, It.IsAny<CancellationToken>())).ReturnsAsync(3);

        var pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Ports.Requests.Verify(r => r.ReleaseClaimsOfAsync(dead, It.IsAny<CancellationToken>()), Times.Once);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.AtLeastOnce(), "the dispatchers take them now");
        Assert.That(pass.LookAgainAt, Is.Null, "nothing left to wait for: not the dead run's lease (At 15)");
    }

    [Test]
    public async Task ClaimsOfARunOnAnotherMachineWhoseLivenessLeaseLapsed_GoBackAtOnce()
    {
        // A server bot killed on another machine: nothing here sees its process, but it stopped renewing its lease.
        const string killed = "another-machine:4242:run";
        Ports.Clock.Set(5);
        Ports.Requests.Setup(r => r.ListClaimsHeldAsync(Moments.At(5), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new HeldClaims(killed, Moments.At(35))]);
        Ports.DutyLeases.Setup(l => l.ListLapsedHoldersAsync(DispatcherRun.LivenessPrefix, It.IsAny<DateTimeOffset>(),
            It.IsAny<CancellationToken>())).ReturnsAsync([killed]);
        Ports.Requests.Setup(r => r.ReleaseClaimsOfAsync(killed, It.IsAny<CancellationToken>())).ReturnsAsync(16);

        var pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Ports.Requests.Verify(r => r.ReleaseClaimsOfAsync(killed, It.IsAny<CancellationToken>()), Times.Once);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.AtLeastOnce(), "the dispatchers take them now");
        Assert.That(pass.LookAgainAt, Is.Null, "not its claims' lease (At 35)");
    }

    [Test]
    public async Task ThisRunsOwnClaims_AreKept_EvenWhenItsOwnLivenessLeaseLapsed()
    {
        // This run is alive (it is asking): a late renewal of its own lease never frees what it is dispatching.
        var own = Ports.Relay<DispatcherRun>().Name;
        Ports.Clock.Set(5);
        Ports.Requests.Setup(r => r.ListClaimsHeldAsync(Moments.At(5), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new HeldClaims(own, Moments.At(12))]);
        Ports.DutyLeases.Setup(l => l.ListLapsedHoldersAsync(DispatcherRun.LivenessPrefix, It.IsAny<DateTimeOffset>(),
            It.IsAny<CancellationToken>())).ReturnsAsync([own]);

        var pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Ports.Requests.Verify(r => r.ReleaseClaimsOfAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(pass.LookAgainAt, Is.EqualTo(Moments.At(12)));
    }

    [Test]
    public async Task ClaimsOfLiveRuns_AreLeftAlone_OthersLookedAtAgainSoon_ThisRunsWhenTheyRunOut()
    {
        var own = Ports.Relay<DispatcherRun>().Name;
        var live = DutyHolders.ThisRun(); // another run of this process, not ended: alive
        // Another machine's run whose liveness lease still runs (none lapsed on record): waited out.
        const string elsewhere = "another-machine:4242:run";
        Ports.Clock.Set(5);
        Ports.Requests.Setup(r => r.ListClaimsHeldAsync(Moments.At(5), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new HeldClaims(own, Moments.At(12)), new HeldClaims(live, Moments.At(13)),
                new HeldClaims(elsewhere, Moments.At(14))]);

        var pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Ports.Requests.Verify(r => r.ReleaseClaimsOfAsync(It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(pass.LookAgainAt, Is.EqualTo(Moments.At(5) + DispatchClaims.OthersClaimsLookedAtAgain),
            "another run's claim is looked at again in a moment, should that run die meanwhile");

        Ports.Requests.Setup(r => r.ListClaimsHeldAsync(Moments.At(5), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new HeldClaims(own, Moments.At(12))]);
        pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(pass.LookAgainAt, Is.EqualTo(Moments.At(12)), "this run's own claim: when its lease runs out");
    }

    [Test]
    public async Task TheDispatchersClaims_NameThisRun()
    {
        var own = Ports.Relay<DispatcherRun>().Name;
        Ports.WorkersOnline(MeatLizard.Application.Tests.Support.TestPorts.ReadyWorker());
        Request(MeatLizard.Domain.Relay.RelayRequestStatus.Pending);

        await Ports.Relay<MediatR.IRequestHandler<DispatchPendingRequests, int>>()
            .Handle(new DispatchPendingRequests(), CancellationToken.None);

        Ports.Requests.Verify(r => r.ClaimPendingAsync(It.IsAny<int>(), It.IsAny<int>(), It.IsAny<DateTimeOffset>(),
            It.IsAny<DateTimeOffset>(), own, It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(DutyHolders.DiedOnThisMachine(own), Is.False, "this run is alive");
    }
}
