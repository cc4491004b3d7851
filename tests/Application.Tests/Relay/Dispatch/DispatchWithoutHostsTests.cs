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

/// <summary>With no host that takes work: the questions wait while one may be back soon, else the fallback answers.</summary>
public class DispatchWithoutHostsTests : DispatchTestBase
{
    [Test]
    public async Task Dispatch_WithNoLiveWorker_AnswersARequestOnlyTheModelMayAnswer_WithANotice()
    {
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).WithOptions(GenerationOptions.Create(modelOnly: true)).Build());

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        var answer = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(answer.Source, Is.EqualTo(MessageSource.Notice));
        Assert.That(answer.Content, Is.EqualTo(RelayOutcomes.ModelOnlyNotice(RelayTimeoutReason.NoWorker)));
        Ports.Fallback.Verify(f => f.ReplyAsync(It.IsAny<UserId>(), It.IsAny<string>(), It.IsAny<RelayTimeoutReason>(),
            It.IsAny<CancellationToken>()), Times.Never, "the Markov chain never pretends to be the model here");
        Ports.Sessions.Verify(s => s.DeleteAsync(It.IsAny<ChatId>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task ARequestThatKeepsNothing_TakesItsChatWithIt_OnceAnswered()
    {
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Chat.Id).ForUser(Alice.Id)
            .Asking(Question.Id).WithOptions(GenerationOptions.Create(modelOnly: true, keepNothing: true)).Build());

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.IsFinished, Is.True);
        Assert.That(Ports.Published.Select(e => e.Type), Does.Contain(ChatEventTypes.Message), "told before it is deleted");
        Ports.Sessions.Verify(s => s.DeleteAsync(Chat.Id, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Dispatch_BeforeTheRelayHearsTheHosts_AfterAStart_HoldsTheQuestions_InsteadOfAnsweringNoHost()
    {
        // A server bot started again: the hosts' heartbeats of the last seconds expired with nobody to hear them, and
        // Discord delivers new ones only once its gateway session has caught up. Until then, and for a heartbeat
        // window after, no host heard from says nothing about the hosts.
        Ports.Listening.Since = null;
        var request = Request(RelayRequestStatus.Pending);
        Ports.Clock.Set(2);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "not listening yet: held");

        Ports.Listening.Since = Ports.Clock.UtcNow;
        Ports.Clock.Set(2 + Ports.RelayOptions.WorkerTimeout.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "listening, but a live host's heartbeat may still be on its way");

        Ports.Clock.Set(3 + 2 * Ports.RelayOptions.WorkerTimeout.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback), "listened long enough: no host is online");
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
    }

    [Test]
    public async Task Dispatch_AfterAnOutage_WaitsForTheHostsToCatchUp_BeforeAnsweringNoHost()
    {
        // The hosts met the same outage and back off between their own attempts: the first heartbeat after it may come
        // a whole back-off after the way is back (a clean-clone CI run answered one question "no host" then).
        var catchUp = TimeSpan.FromSeconds(6);
        Ports.Listening.HostsCatchUp = catchUp;
        var window = 2 * Ports.RelayOptions.WorkerTimeout.TotalSeconds;
        Ports.Clock.Set(1);
        Ports.Transport.Unreachable(TimeSpan.Zero);
        Ports.Clock.Set(30);
        Ports.Transport.Reachable();
        var request = Request(RelayRequestStatus.Pending);

        Ports.Clock.Set(30 + window + catchUp.TotalSeconds - 1);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "past the heartbeat window, the hosts may still be backing off");

        Ports.Clock.Set(30 + window + catchUp.TotalSeconds + 1);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback), "caught up and still silent: no host is online");
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
    }

    [Test]
    public async Task Dispatch_AfterAStartWithoutAnOutage_DoesNotWaitForTheHostsToCatchUp()
    {
        // Only an outage makes the hosts back off: after this process's own start, the heartbeat window is enough.
        Ports.Listening.HostsCatchUp = TimeSpan.FromSeconds(6);
        Ports.Listening.Since = Ports.Clock.UtcNow;
        var request = Request(RelayRequestStatus.Pending);

        Ports.Clock.Set(1 + 2 * Ports.RelayOptions.WorkerTimeout.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback), "listened a heartbeat window: no host is online");
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
    }

    [Test]
    public async Task Dispatch_WhenTheHostKnownAMomentAgoIsMissing_WaitsForItsHeartbeat_BeforeAnsweringNoHost()
    {
        // Its heartbeat is late (slowed on the way, or this process slow to record it) and its presence expired: the
        // questions wait a worker timeout for it, and its next heartbeat wakes the dispatcher.
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var earlier = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(earlier.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "the host was there");
        Ports.WorkersOnline();
        Ports.Clock.Set(ModelHosts.Reuse.TotalSeconds + 1);
        var request = Pending("alpha");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "held: the host was there a moment ago");
        Assert.That(Ports.Hosts.NoteHeartbeat(host with { SeenAt = Ports.Clock.UtcNow }, null, Ports.RelayOptions.WorkerTimeout),
            Is.True, "its next heartbeat wakes the dispatcher");

        Ports.Clock.Set(ModelHosts.Reuse.TotalSeconds + 2 + Ports.RelayOptions.WorkerTimeout.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback), "silent for a whole worker timeout: no host");
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
    }

    [Test]
    public async Task Dispatch_WhenTheHostKnownAMomentAgoIsMissing_WaitsAsLongAsForAnAck_WhenThatIsLongerThanTheWorkerTimeout()
    {
        // Short heartbeats (a worker timeout of 2 s) and an ack timeout of 10 s: a question sent to the host would wait 10 s
        // for it, so one that finds it missing waits as long before it is told no host is online.
        Ports.RelayOptions.WorkerTimeout = TimeSpan.FromSeconds(2);
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var request = Pending("alpha");
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "the host was there");

        Ports.WorkersOnline();
        var later = Pending("alpha");
        Ports.Clock.Set(ModelHosts.Reuse.TotalSeconds + 1 + 2 * Ports.RelayOptions.WorkerTimeout.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(later.Status, Is.EqualTo(RelayRequestStatus.Pending), "held: silent for two worker timeouts, not an ack timeout");

        Ports.Clock.Set(ModelHosts.Reuse.TotalSeconds + 2 + Ports.RelayOptions.AckTimeout.TotalSeconds);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(later.Status, Is.EqualTo(RelayRequestStatus.Fallback), "silent for a whole ack timeout: no host");
        Assert.That(later.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
    }

    [Test]
    public async Task Dispatch_WithNoLiveWorker_LetsTheFallbackAnswerAtOnce()
    {
        var request = Request(RelayRequestStatus.Pending);
        Ports.Clock.Set(2);

        var handled = await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(handled, Is.EqualTo(1));
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoWorker));
        var answer = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(answer.Source, Is.EqualTo(MessageSource.Fallback));
        Assert.That(answer.Content, Is.EqualTo("markov says hi"));
        Assert.That(request.AnswerMessageId, Is.EqualTo(answer.Id));
        Ports.Fallback.Verify(f => f.ReplyAsync(request.UserId, "Why is the sky blue?", RelayTimeoutReason.NoWorker,
            It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(Ports.SentToWorkers, Is.Empty, "nothing was in flight, so nothing to cancel");
        Assert.That(Ports.Journal, Is.EqualTo(new[]
        {
            "update request:Fallback with answer:Fallback",
        }));
        Assert.That(Ports.Published.Select(e => e.Type), Is.EqualTo(new[] { ChatEventTypes.Message, ChatEventTypes.Status }));
        Assert.That(Ports.Published[0].Message!.Source, Is.EqualTo("fallback"));
        Assert.That(Ports.Published[1].Status, Is.EqualTo("fallback"));
        Assert.That(Ports.PublishedUnits, Has.Count.EqualTo(1), "the answer and its status in one publish");
        Ports.Metrics.Verify(m => m.RecordAsync(It.Is<RequestMetric>(x => x.Fallback && x.Outcome == "fallback:NoWorker"),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Dispatch_WithAnInformFallback_StoresTheNoticeAsTheAnswer()
    {
        Ports.Fallback.Setup(f => f.ReplyAsync(It.IsAny<UserId>(), It.IsAny<string>(), It.IsAny<RelayTimeoutReason>(),
            It.IsAny<CancellationToken>())).ReturnsAsync(new FallbackReply("The model host is offline.", MessageSource.Notice));
        var request = Request(RelayRequestStatus.Pending);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(Ports.StoredMessages.Single(m => m.Id == request.AnswerMessageId).Source,
            Is.EqualTo(MessageSource.Notice));
    }

    [TestCase(false, false)]
    [TestCase(true, true)]
    public async Task Dispatch_WithOnlyUnreadyOrDrainingWorkers_FallsBack(bool ready, bool draining)
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker(ready, draining));
        var request = Request(RelayRequestStatus.Pending);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(Ports.SentToWorkers, Is.Empty);
    }

    [Test]
    public async Task Dispatch_ToAWorkerStillLoadingItsModel_SendsTheRequestThere_InsteadOfFallingBack()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker(ready: false, loading: true));
        var request = Request(RelayRequestStatus.Pending);
        Ports.Clock.Set(2);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "it waits at the worker for the model");
        Assert.That(Ports.EnvelopesSentToWorkers.Select(e => (e.Type, e.RequestId)),
            Is.EqualTo(new[] { (EnvelopeType.Request, request.Id.Value) }));
        Assert.That(StoredAnswers, Is.Zero);
        Ports.Fallback.Verify(f => f.ReplyAsync(It.IsAny<UserId>(), It.IsAny<string>(), It.IsAny<RelayTimeoutReason>(),
            It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(request.AckDeadline, Is.EqualTo(Moments.At(2) + Ports.RelayOptions.AckTimeout),
            "the relay's own timeouts still bound the wait: the fallback answers when they run out");
        Assert.That(request.CompletionDeadline, Is.EqualTo(Moments.At(2) + Ports.RelayOptions.CompletionTimeout));
    }

    [Test]
    public async Task Dispatch_WithOnlyAHostWhoseEngineIsRestarting_KeepsTheRequestQueuedForIt_NeitherSentNorFallenBack()
    {
        Ports.WorkersOnline(TestPorts.RestartingWorker());
        var request = Request(RelayRequestStatus.Pending);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "it waits in the queue for the engine");
        Assert.That(Ports.SentToWorkers, Is.Empty, "a host whose engine is starting again could not run it");
        Assert.That(StoredAnswers, Is.Zero, "no notice, no fallback: the model answers once it is back");
        Assert.That(Ports.Published.Where(e => e.RequestId == request.Id.Value).Select(e => e.Status), Does.Contain("queued"));
    }

    [Test]
    public async Task Dispatch_WithAHostRestartingItsEngineAndAReadyOne_SendsTheRequestToTheReadyOne()
    {
        var restarting = TestPorts.RestartingWorker();
        var ready = TestPorts.ReadyWorker();
        Ports.WorkersOnline(restarting, ready);
        var request = Request(RelayRequestStatus.Pending);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(request.WorkerId, Is.EqualTo(ready.WorkerId));
    }

    [Test]
    public async Task Dispatch_ToALoadingWorkerThatIsDraining_FallsBack()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker(ready: false, draining: true, loading: true));
        var request = Request(RelayRequestStatus.Pending);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(Ports.SentToWorkers, Is.Empty);
    }
}
