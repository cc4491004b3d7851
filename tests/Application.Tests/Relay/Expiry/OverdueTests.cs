using MediatR;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>Requests late by the hosts' clock: sent again while a host may take them, else the fallback answers.</summary>
public class OverdueTests : ExpiryTestBase
{
    [Test]
    public async Task NothingLateYet_SaysWhenToLookAgain_TheEarliestDeadlineOrClaimToRunOut()
    {
        var unacknowledged = Request(RelayRequestStatus.Dispatched); // ack deadline T0+11
        AckedRequest(); // completion deadline T0+61
        Ports.Clock.Set(5);

        var pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That((pass.Expired, pass.LookAgainAt), Is.EqualTo((0, Moments.At(11))), "the unacknowledged one's ack deadline");

        unacknowledged.Acknowledge(Moments.At(6));
        pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(pass.LookAgainAt, Is.EqualTo(Moments.At(61)), "acknowledged: the completion deadlines only");

        // A claim a dispatcher holds (it may have died holding it) runs out sooner.
        Ports.Requests.Setup(r => r.ListClaimsHeldAsync(Moments.At(5), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new HeldClaims(null, Moments.At(20))]);
        pass = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(pass.LookAgainAt, Is.EqualTo(Moments.At(20)));
    }

    [Test]
    public async Task Overdue_WithoutAck_FallsBackForNoAck_AndTellsTheWorkerToStop()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Clock.Set(11);

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.EqualTo(1));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoAck));
        Ports.Fallback.Verify(f => f.ReplyAsync(request.UserId, "Why is the sky blue?", RelayTimeoutReason.NoAck,
            It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(StoredAnswers, Is.EqualTo(1));
        Assert.That(Ports.EnvelopesSentToWorkers.Select(e => (e.Type, e.RequestId)),
            Is.EqualTo(new[] { (EnvelopeType.Cancel, request.Id.Value) }));
    }

    [Test]
    public async Task Overdue_WithoutAck_WhileAnotherHostServesTheModel_GoesToThatHost_NoNotice()
    {
        var silent = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        var other = new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]);
        var beta = new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["beta"]);
        Ports.WorkersOnline(silent, other, beta);
        var request = SentTo(silent.WorkerId, "alpha");
        Ports.Clock.Set(12);
        Ports.WorkersOnline(silent with { SeenAt = Moments.At(12) }, other with { SeenAt = Moments.At(12) }, beta);

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.EqualTo(1));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "back in the queue for the other alpha host");
        Assert.That(StoredAnswers, Is.Zero, "no notice while another host of its model is online");
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("requeued"));
        Ports.Fallback.Verify(f => f.ReplyAsync(It.IsAny<UserId>(), It.IsAny<string>(), It.IsAny<RelayTimeoutReason>(),
            It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task Overdue_WithoutAck_ItsFirstAttempt_IsSentAgain_EvenToTheSameHost()
    {
        // Its envelope may never have gone out (the dispatcher that stored it killed before it sent it) or been lost on
        // the way: the host, alive and heard from, gets it again instead of the user a notice.
        var silent = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(silent);
        var request = SentTo(silent.WorkerId, "alpha");
        Ports.Clock.Set(12);
        Ports.WorkersOnline(silent with { SeenAt = Moments.At(12) });

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.EqualTo(1));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "back in the queue, for the same host");
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Overdue_WithoutAck_FromAHostSilentSinceItsDispatch_FallsBackAtOnce()
    {
        // Its last heartbeat is from before the dispatch (it stopped just then): gone, not a lost envelope.
        var silent = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(silent);
        var request = SentTo(silent.WorkerId, "alpha");
        Ports.Clock.Set(12);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoAck));
    }

    [Test]
    public async Task Overdue_WithoutAck_FromAHostNotHeardSinceItsDispatch_WhileThisRelayOnlyJustListens_IsSentAgain()
    {
        // This server bot's last run stored the dispatch at T0-10 and was killed before sending it; this run started at
        // T0 and receives from the hosts again since T0+1, so a host's silence since the dispatch says nothing of the
        // host yet (its next heartbeat has not had time to come). The fault suite's restarted server bot gave such a
        // request a notice.
        var host = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.At(-11), Models: ["alpha"]);
        Ports.WorkersOnline(host);
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(-10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), host.WorkerId, "alpha");
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        Ports.Listening.Since = Moments.At(1);
        Ports.Clock.Set(11); // ten seconds of the host's clock: T0-10 to T0 was this process's absence

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "back in the queue, for the same host");
        Assert.That(StoredAnswers, Is.Zero, "no notice");
    }

    [Test]
    public async Task Overdue_WithoutAck_FromAHostWhoseGoodbyeWasReadAfterItsDispatch_FallsBackAtOnce()
    {
        // The host said it is stopping (a draining heartbeat), and the server read that after it had sent the question:
        // heard from since the dispatch, but leaving — it takes nothing new, so the question is not sent to it again.
        var leaving = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(leaving);
        var request = SentTo(leaving.WorkerId, "alpha");
        Ports.Clock.Set(12);
        Ports.WorkersOnline(leaving with { SeenAt = Moments.At(2), Draining = true });

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoAck));
    }

    [Test]
    public async Task Overdue_WithoutAck_AtItsLastAttempt_FromAHostThatStartedAgainSinceItsDispatch_GoesBackToTheQueue()
    {
        // Sent to its only host as that host was killed and started again: the new run never had it, so its silence is
        // not the question's failure and uses up no attempt (a clean-clone CI run's client-bot kill row ended two
        // questions with this notice).
        var bootBefore = Guid.NewGuid();
        var host = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(host);
        Ports.HostRuns.NoteBoot(host.WorkerId, bootBefore);
        var request = SentTo(host.WorkerId, "alpha");
        Assert.That(request.Requeue(), Is.True);
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), host.WorkerId, "alpha");
        Assert.That(request.Attempts, Is.EqualTo(Ports.RelayOptions.MaxAttempts));
        Ports.Clock.Set(3);
        Ports.HostRuns.NoteBoot(host.WorkerId, Guid.NewGuid()); // its new run
        Ports.Clock.Set(12);
        Ports.WorkersOnline(host with { SeenAt = Moments.At(12) });

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "back in the queue for the host's new run");
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Overdue_WithoutAck_AtItsLastAttempt_WhenNoOtherHostServesTheModel_FallsBackForNoAck()
    {
        var silent = new HostHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        var beta = new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["beta"]);
        Ports.WorkersOnline(silent, beta);
        var request = SentTo(silent.WorkerId, "alpha");
        Assert.That(request.Requeue(), Is.True);
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), silent.WorkerId, "alpha");
        Assert.That(request.Attempts, Is.EqualTo(Ports.RelayOptions.MaxAttempts));
        Ports.Clock.Set(12);
        Ports.WorkersOnline(silent with { SeenAt = Moments.At(12) }, beta with { SeenAt = Moments.At(12) });

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback), "only a beta host is left: the notice says why");
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoAck));
    }

    [Test]
    public async Task Overdue_AckedButNotFinished_FallsBackForNoCompletion()
    {
        var request = AckedRequest();
        Ports.Clock.Set(61);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoCompletion));
    }

    [Test]
    public async Task Acked_PastTheAckDeadlineButWithinCompletion_IsLeftAlone()
    {
        var request = AckedRequest();
        Ports.Clock.Set(30);

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.Zero);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(Ports.Journal, Is.Empty);
    }

    [Test]
    public async Task NotYetOverdue_IsLeftAlone()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Clock.Set(10);

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.Zero);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }
}
