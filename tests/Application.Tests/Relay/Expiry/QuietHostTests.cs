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

/// <summary>A host gone quiet or back as a new run: its requests go to another host — never while the way to the hosts is out.</summary>
public class QuietHostTests : ExpiryTestBase
{
    [Test]
    public async Task ARequestWhoseHostWentQuiet_GoesBackToTheQueueForAnotherHost_Once()
    {
        var (request, gone) = DispatchedToAHostGoneQuiet();

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.WorkerId, Is.Null);
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("requeued"));
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.AtLeastOnce);

        request.Dispatch(Ports.Clock.UtcNow, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), gone);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched),
            "out of attempts (Relay:MaxAttempts 2): its timeouts decide, as for any request");
    }

    [Test]
    public async Task OnTheDirectRelay_ARequestWhoseHostDialledAnotherInstance_AndWentQuiet_GoesBackToTheQueue()
    {
        // The instance the host was connected to died with it: only the others are left to judge what it had.
        Ports.Reach = new InstanceReach();
        var (request, _) = DispatchedToAHostGoneQuiet();

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.WorkerId, Is.Null);
    }

    [Test]
    public async Task ARequestAHostTookUpBeforeItRestarted_GoesBackToTheQueue_OneSentAfterStays()
    {
        var host = Guid.NewGuid();
        Ports.WorkersOnline(new HostHealth(host, "scripted", true, 0, false, null, Moments.T0));
        var before = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        before.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), host);
        before.Acknowledge(Moments.At(2));
        Ports.ChangedElsewhere(before.Id, RelayRequestStatus.Dispatched);
        var unacked = Ports.Remember(new RelayRequestBuilder().ForSession(Ports.Remember(new SessionBuilder().OwnedBy(Alice).Build()).Id)
            .ForUser(Alice.Id).Asking(Question.Id).Build());
        unacked.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), host);
        Ports.ChangedElsewhere(unacked.Id, RelayRequestStatus.Dispatched);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid());
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid()); // the host's next heartbeat comes from a new run
        Ports.Clock.Set(6);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(before.Status, Is.EqualTo(RelayRequestStatus.Pending), "the run that had it is gone");
        Assert.That(unacked.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "the new run catches up with it");
        before.Dispatch(Ports.Clock.UtcNow, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), host);
        Ports.ChangedElsewhere(before.Id, RelayRequestStatus.Dispatched);
        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(before.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "sent to the new run: it stays");
    }

    [Test]
    public async Task ARequestTakenUpByARunThisProcessNeverHeard_GoesBackToTheQueue_AtTheHostsFirstHeartbeatFromAnotherRun()
    {
        // The host's instance died while the host restarted: the host dialled this process, which never heard the run
        // that took the request. The ack named that run, so its next run's first heartbeat here tells it is gone — the
        // request goes out again now, not at its completion deadline (T0+122).
        var (host, taken) = AckedByAnOnlineHost(run: Guid.NewGuid());
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid()); // the first heartbeat heard here, from the host's new run

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(taken.Status, Is.EqualTo(RelayRequestStatus.Pending), "the run that had it is gone");
        Assert.That(taken.Attempts, Is.EqualTo(1), "one attempt used, as for a restart heard here");
        Assert.That(Ports.HostRuns.TakeRestartNews(), Is.True, "the expiry pass was told to look at once");
    }

    [Test]
    public async Task ARequestTakenUpByTheRunHeardNow_Stays_HoweverLateThisProcessFirstHeardIt()
    {
        // The host only dialled this process when its instance died: the run that has the request is alive and answers.
        var run = Guid.NewGuid();
        var (host, taken) = AckedByAnOnlineHost(run);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, run);

        await StaysAfterAnExpiryPassAsync(taken, "the run that took it is alive");
    }

    [Test]
    public async Task ARequestTakenUpByANewRunBeforeItsFirstHeartbeatCameHere_Stays()
    {
        // The new run caught up with its channels and acknowledged before this process heard its first heartbeat: the run
        // heard now (its last one) is older than the ack, and the run that has the request is alive.
        var newRun = Guid.NewGuid();
        var (host, taken) = AckedByAnOnlineHost(newRun);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid()); // at T0, before the ack
        Ports.Clock.Set(5);

        await StaysAfterAnExpiryPassAsync(taken, "before the new run's heartbeat");

        Ports.HostRuns.NoteBoot(host, newRun);
        await StaysAfterAnExpiryPassAsync(taken, "after it: the run that took it");
    }

    [Test]
    public async Task ARequestTakenUpByALaterRun_Stays_WhenThisProcessFirstHearsTheHostFromAnEarlierRunsHeartbeatReadLate()
    {
        // This process starts (a server bot started afresh, reading its channels' history) and its first heartbeat of the
        // host is the last one of a run that has since ended (sent at T0+1), read at T0+5: the later run acknowledged the
        // request at T0+2, through another process, and is alive. Heard from T0+5, the earlier run looked like the host's
        // run after the ack: the live run's request went back to the queue, and was written again.
        var live = Guid.NewGuid();
        var (host, taken) = AckedByAnOnlineHost(live);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid(), sentAt: Moments.At(1));

        await StaysAfterAnExpiryPassAsync(taken, "the run that has it acknowledged it after");

        Ports.Clock.Set(6);
        Ports.HostRuns.NoteBoot(host, live, sentAt: Moments.At(6));
        await StaysAfterAnExpiryPassAsync(taken, "the run that took it, heard now");
    }

    [Test]
    public async Task ALateHeartbeatOfARunAlreadyReplacedHere_ChangesNothing_TheLiveRunsRequestStays()
    {
        // The host restarted at T0+1 and its new run acknowledged at T0+2; at T0+5 a heartbeat of the run it replaced is
        // read (tried again after a failure, caught up from a channel), whatever the host's clock said when it was sent.
        // Taken for the host's run again, it made the live run's request look lost.
        var ended = Guid.NewGuid();
        var live = Guid.NewGuid();
        var (host, taken) = AckedByAnOnlineHost(live);
        Ports.HostRuns.NoteBoot(host, ended);
        Ports.Clock.Set(1);
        Ports.HostRuns.NoteBoot(host, live);
        Ports.Clock.Set(5);
        _ = Ports.HostRuns.TakeRestartNews();

        Assert.That(Ports.HostRuns.NoteBoot(host, ended), Is.False, "no news: that run ended before");
        await StaysAfterAnExpiryPassAsync(taken, "the run that has it is alive");

        Assert.Multiple(() =>
        {
            Assert.That(Ports.HostRuns.RestartedAt(host), Is.EqualTo(Moments.At(1)), "the restart heard stands");
            Assert.That(Ports.HostRuns.TakeRestartNews(), Is.False);
        });
    }

    [Test]
    public async Task OnTheDirectRelay_ARequestSentToARunThisProcessNeverHeard_NotAcknowledged_GoesBackToTheQueue_AtOnce()
    {
        // The host's instance died as the host restarted, after it had sent the request to the host's run, which never
        // acknowledged it; the host dialled this process. The new run never had the request (the envelope was on the
        // dead instance's link) and would never acknowledge it: it waited for its ack timeout (T0+61).
        Ports.Reach = new InstanceReach();
        var (host, sent) = SentUnacknowledged(toRun: Guid.NewGuid(), at: 1);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid(), sentAt: Moments.At(4)); // the first heartbeat heard here, a new run's

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(sent.Status, Is.EqualTo(RelayRequestStatus.Pending), "not with the run there now");
        Assert.That(sent.Attempts, Is.EqualTo(1), "one attempt used");
        Assert.That(sent.SentToRun, Is.Null, "the next attempt names its own run");
    }

    [Test]
    public async Task OnTheDirectRelay_ARequestSentToARunThisProcessHeard_NotAcknowledged_GoesBackToTheQueue_AtTheNextRunsHeartbeat()
    {
        // The host restarted and dialled this process again: what the lost run had received (the link had forgotten it)
        // but not acknowledged, the new run never had.
        Ports.Reach = new InstanceReach();
        var lost = Guid.NewGuid();
        var (host, sent) = SentUnacknowledged(toRun: lost, at: 1);
        Ports.HostRuns.NoteBoot(host, lost, sentAt: Moments.T0);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid(), sentAt: Moments.At(4));

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(sent.Status, Is.EqualTo(RelayRequestStatus.Pending));
    }

    [Test]
    public async Task OnTheDirectRelay_ARequestSentAfterTheNewRunBegan_Stays_WhicheverRunTheDispatcherHadHeard()
    {
        // The new run's first heartbeat was sent at T0+2. At T0+3, one request went to it by a process that had heard it,
        // and one by a process that had not heard it yet (its last heartbeat was the lost run's): both are with the new run,
        // which acknowledges them. Sent again, the host would be asked the same question twice.
        Ports.Reach = new InstanceReach();
        var (lost, live) = (Guid.NewGuid(), Guid.NewGuid());
        var (host, toLive) = SentUnacknowledged(toRun: live, at: 3);
        var toLost = SentUnacknowledged(host, toRun: lost, at: 3);
        Ports.HostRuns.NoteBoot(host, lost, sentAt: Moments.T0);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, live, sentAt: Moments.At(2)); // read at T0+5

        await StaysAfterAnExpiryPassAsync(toLive, "sent to the run heard now");
        Assert.That(toLost.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "sent after the run heard now began");
    }

    [Test]
    public async Task OnTheDirectRelay_ARequestSentToALaterRun_Stays_WhenThisProcessFirstHearsTheHostFromAnEarlierRunsHeartbeatReadLate()
    {
        Ports.Reach = new InstanceReach();
        var (host, sent) = SentUnacknowledged(toRun: Guid.NewGuid(), at: 1);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid(), sentAt: Moments.T0); // a run that ended before the request went out

        await StaysAfterAnExpiryPassAsync(sent, "the run it went to came after the one heard");
    }

    [Test]
    public async Task OverDiscord_ARequestSentToAnEarlierRun_NotAcknowledged_Stays()
    {
        // The new run reads the request in its channel's history when it catches up, and answers it.
        var (host, sent) = SentUnacknowledged(toRun: Guid.NewGuid(), at: 1);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid(), sentAt: Moments.At(4));

        await StaysAfterAnExpiryPassAsync(sent, "the new run catches up with its channel");
    }

    [Test]
    public async Task OnTheDirectRelay_ARequestWhoseDispatcherHadHeardNoRunOfItsHost_Stays_NotAcknowledged()
    {
        // A host older than runs, or one not heard there yet: which run it went to is not known, and its ack timeout decides.
        Ports.Reach = new InstanceReach();
        var (host, sent) = SentUnacknowledged(toRun: null, at: 1);
        Ports.Clock.Set(5);
        Ports.HostRuns.NoteBoot(host, Guid.NewGuid(), sentAt: Moments.At(4));

        await StaysAfterAnExpiryPassAsync(sent, "no run named");
    }

    /// <summary>
    /// A host online since T0, and a request sent to its run <paramref name="toRun"/> at T0+<paramref name="at"/> (ack
    /// timeout 60 s), not acknowledged.
    /// </summary>
    private (Guid Host, RelayRequest Sent) SentUnacknowledged(Guid? toRun, int at)
    {
        var host = Guid.NewGuid();
        Ports.WorkersOnline(new HostHealth(host, "scripted", true, 0, false, null, Moments.T0));
        return (host, SentUnacknowledged(host, toRun, at));
    }

    private RelayRequest SentUnacknowledged(Guid host, Guid? toRun, int at)
    {
        var request = Ports.Remember(new RelayRequestBuilder()
            .ForSession(Ports.Remember(new SessionBuilder().OwnedBy(Alice).Build()).Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(at), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), host, sentToRun: toRun);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        return request;
    }

    /// <summary>Runs an expiry pass and asserts <paramref name="taken"/> is still with its host.</summary>
    private async Task StaysAfterAnExpiryPassAsync(RelayRequest taken, string because)
    {
        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(taken.Status, Is.EqualTo(RelayRequestStatus.Dispatched), because);
    }

    /// <summary>
    /// A host online since T0, and a request sent to it at T0+1 and acknowledged by its run <paramref name="run"/> at
    /// T0+2.
    /// </summary>
    private (Guid Host, RelayRequest Taken) AckedByAnOnlineHost(Guid run)
    {
        var host = Guid.NewGuid();
        Ports.WorkersOnline(new HostHealth(host, "scripted", true, 0, false, null, Moments.T0));
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), host);
        Assert.That(request.Acknowledge(Moments.At(2), run), Is.True);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        return (host, request);
    }

    [Test]
    public async Task JustAfterAStart_AHostNotHeardYet_DoesNotCountAsGone()
    {
        _ = Ports.Hosts;
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), Guid.NewGuid());
        Ports.Clock.Set(2);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }

    [Test]
    public async Task ADeadlinePassedWhileDiscordWasOut_IsHeld_AndMovesOnByTheOutage()
    {
        var request = Request(RelayRequestStatus.Dispatched); // ack deadline T0+11
        Ports.Clock.Set(2);
        Ports.Transport.Unreachable(TimeSpan.Zero);
        Ports.Clock.Set(30);
        var duringTheOutage = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Ports.Transport.Reachable(); // out for 28 s: the host's clock reads 1 + 1 s at T0+30
        Ports.Clock.Set(38);
        var withinTheHeldTime = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        var statusThen = request.Status;
        Ports.Clock.Set(40);

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.EqualTo(1));
        Assert.Multiple(() =>
        {
            Assert.That(duringTheOutage.Expired, Is.Zero, "nothing is late for an outage of the way to the host");
            Assert.That(withinTheHeldTime.Expired, Is.Zero);
            Assert.That(withinTheHeldTime.LookAgainAt, Is.EqualTo(Moments.At(39)),
                "the host's clock reads T0+10 at T0+38: late in one more second");
            Assert.That(statusThen, Is.EqualTo(RelayRequestStatus.Dispatched));
            Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoAck), "10 s of the host's own silence");
        });
    }

    [Test]
    public async Task AnOutageLongerThanTheHold_CountsAgainstTheDeadline_PastTheHold()
    {
        Ports.RelayOptions.MaxOutageHold = TimeSpan.FromSeconds(5);
        var request = Request(RelayRequestStatus.Dispatched); // ack deadline T0+11
        Ports.Clock.Set(2);
        Ports.Transport.Unreachable(TimeSpan.Zero);
        Ports.Clock.Set(15);
        var held = await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Ports.Clock.Set(16);

        Assert.That((await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None)).Expired, Is.EqualTo(1));
        Assert.That(held.Expired, Is.Zero, "held 5 s at most: the host's clock reads T0+10 at T0+15");
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
    }

    [Test]
    public async Task AHostGoneQuiet_WhenDiscordDoesNotAnswerEither_IsNotTakenForGone()
    {
        _ = Ports.Hosts; // this process started at T0
        Ports.Reachability.Setup(r => r.IsReachableAsync(It.IsAny<CancellationToken>())).ReturnsAsync(false);
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), Guid.NewGuid());
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        Ports.Clock.Set(Ports.RelayOptions.WorkerTimeout.TotalSeconds + 1);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "asked first: the way is out, not the host");
    }

    [Test]
    public async Task WhileDiscordIsOut_AHostNotHeardFrom_IsNotTakenForGone()
    {
        _ = Ports.Hosts; // this process started at T0
        var host = Guid.NewGuid();
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), host);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        Ports.Clock.Set(2);
        Ports.Transport.Unreachable(TimeSpan.Zero);
        Ports.Clock.Set(Ports.RelayOptions.WorkerTimeout.TotalSeconds + 1);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "its heartbeats cannot come through either");
        Ports.Transport.Reachable();
        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "just back: no heartbeat could come yet");
        Ports.Clock.Set(3 * Ports.RelayOptions.WorkerTimeout.TotalSeconds + 2);
        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "with the way back a while, its silence counts");
    }

    [Test]
    public async Task ARequestWhoseHostsWentQuietOnEveryAttempt_GoesOnWhileAnotherHostServesTheModel_UpToTheCap()
    {
        var alive = new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(alive);
        _ = Ports.Hosts; // this process started at T0
        var request = SentTo(Guid.NewGuid(), "alpha");
        Ports.Clock.Set(Ports.RelayOptions.WorkerTimeout.TotalSeconds + 1);
        var cap = Ports.RelayOptions.MaxAttempts + Ports.RelayOptions.HostFailureRetries;

        for (var sent = 1; sent < cap; sent++)
        {
            Ports.WorkersOnline(alive with { SeenAt = Ports.Clock.UtcNow });
            await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
            Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), $"send {sent}: its host went quiet, another serves alpha");
            request.Dispatch(Ports.Clock.UtcNow, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), Guid.NewGuid(), "alpha");
            Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        }

        Ports.WorkersOnline(alive with { SeenAt = Ports.Clock.UtcNow });
        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);
        Assert.That(request.Attempts, Is.EqualTo(cap));
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "past the cap its timeouts decide, as for any request");
    }

    /// <summary>A request dispatched at T1 (this process started at T0) to a host the presence store no longer lists, a worker timeout later.</summary>
    private (RelayRequest Request, Guid Host) DispatchedToAHostGoneQuiet()
    {
        _ = Ports.Hosts;
        var gone = Guid.NewGuid();
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), gone);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        Ports.Clock.Set(Ports.RelayOptions.WorkerTimeout.TotalSeconds + 1);
        return (request, gone);
    }
}
