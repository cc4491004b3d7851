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
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Tests.Builders;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public abstract class RelayHandlerTestBase
{
    protected TestPorts Ports { get; private set; } = null!;

    protected User Alice { get; private set; } = null!;

    protected ChatSession Session { get; private set; } = null!;

    protected Message Question { get; private set; } = null!;

    [SetUp]
    public void SetUpPorts()
    {
        Ports = new TestPorts();
        Alice = Ports.SignIn(new UserBuilder().Named("alice").Build());
        Session = Ports.Remember(new SessionBuilder().OwnedBy(Alice).Build());
        Question = Ports.Remember(Session.PostUserMessage(Alice, PromptText.From("Why is the sky blue?"), Moments.T0));
    }

    protected RelayRequest Request(RelayRequestStatus status) => Ports.Remember(new RelayRequestBuilder()
        .ForSession(Session.Id).ForUser(Alice.Id).Asking(Question.Id).In(status).Build());

    protected RelayRequest AckedRequest() => Ports.Remember(new RelayRequestBuilder()
        .ForSession(Session.Id).ForUser(Alice.Id).Asking(Question.Id).Acked().Build());

    protected int StoredAnswers => Ports.StoredMessages.Count(m => m.Role == MessageRole.Assistant);
}

public class DispatchPendingRequestsTests : RelayHandlerTestBase
{
    private IRequestHandler<DispatchPendingRequests, int> Handler =>
        Ports.Relay<IRequestHandler<DispatchPendingRequests, int>>();

    [Test]
    public async Task Dispatch_SendsEachRequestToAHostServingItsModel_TheLeastLoaded_AndNamesItInTheBody()
    {
        var (a1, a2, b) = (TestPorts.Host(1, "alpha"), TestPorts.Host(1, "alpha"), TestPorts.Host(2, "beta"));
        Ports.WorkersOnline(a1, a2, b);
        var forAlpha = new[] { Pending("alpha"), Pending("alpha") };
        var forBeta = Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(forAlpha.Select(r => r.WorkerId), Is.EquivalentTo(new Guid?[] { a1.WorkerId, a2.WorkerId }),
            "one on each alpha host, not both on one");
        Assert.That(forBeta.WorkerId, Is.EqualTo(b.WorkerId));
        var targets = Ports.EnvelopesSentToWorkers.ToDictionary(e => e.RequestId,
            e => e.Body.Deserialize<RequestBody>(RelayJson.Options)!.WorkerId);
        Assert.That(targets[forBeta.Id.Value], Is.EqualTo(b.WorkerId));
        Assert.That(forAlpha.Select(r => targets[r.Id.Value]), Is.EquivalentTo(forAlpha.Select(r => r.WorkerId)));
    }

    [Test]
    public async Task Dispatch_ASendDiscordDidNotAnswerInTime_GoesBackToTheQueue_AndTheRestOfTheBatchIsSent()
    {
        // The HTTP client's own timeout surfaces as a cancellation (not of the dispatcher's token), and another call
        // may have found Discord back by then: the request was not known to be sent, so it must not wait out its ack
        // timeout for an envelope no host got.
        Ports.WorkersOnline(TestPorts.Host(4, "alpha"));
        var first = Pending("alpha");
        var second = Pending("alpha");
        var sends = 0;
        Ports.ServerTransport.Setup(t => t.SendAsync(It.IsAny<RelayPacket>(), It.IsAny<CancellationToken>()))
            .Returns(() => ++sends == 1
                ? ValueTask.FromException(new RelayTransportUnavailableException("Discord is not answering.",
                    new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing.",
                        new TimeoutException())))
                : ValueTask.CompletedTask);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(sends, Is.EqualTo(2), "the rest of the batch is still sent");
        var (notSent, sent) = first.Status == RelayRequestStatus.Pending ? (first, second) : (second, first);
        Assert.That(notSent.Status, Is.EqualTo(RelayRequestStatus.Pending), "back in the queue, its host not blamed");
        Assert.That(sent.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }

    [Test]
    public async Task Dispatch_NeverGivesAHostMoreThanItsSlots_TheRestWaitInTheQueue()
    {
        var host = TestPorts.Host(2, "alpha");
        Ports.WorkersOnline(host);
        var requests = Enumerable.Range(0, 5).Select(_ => Pending("alpha")).ToList();

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(requests.Count(r => r.Status == RelayRequestStatus.Dispatched), Is.EqualTo(2));
        Assert.That(requests.Count(r => r.Status == RelayRequestStatus.Pending), Is.EqualTo(3), "still queued, not answered");
        Assert.That(Ports.Journal, Does.Contain("release 3"));
        Assert.That(Ports.Hosts.QueueWaiting, Is.True, "a slot that frees wakes the dispatcher");
    }

    [Test]
    public async Task Dispatch_AModelRunApartOnItsHost_GetsNoMoreThanItsOwnSlots_WhateverTheOthersHaveFree()
    {
        // One llama-server per model: alpha has 1 slot, beta 2 (the host's 3 together).
        var split = TestPorts.Host(3, "alpha", "beta") with
        {
            ModelDetails = [new ModelCapacity("alpha", 1), new ModelCapacity("beta", 2)],
        };
        Ports.WorkersOnline(split);
        var alpha = new[] { Pending("alpha"), Pending("alpha") };
        var beta = Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(alpha.Count(r => r.Status == RelayRequestStatus.Dispatched), Is.EqualTo(1), "alpha's one slot");
        Assert.That(alpha.Single(r => r.Status == RelayRequestStatus.Dispatched).RoutedModel, Is.EqualTo("alpha"));
        Assert.That(beta.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "beta has slots of its own");
        Assert.That(alpha.Count(r => r.Status == RelayRequestStatus.Pending), Is.EqualTo(1), "waits, though the host has a slot free");
    }

    [Test]
    public async Task Dispatch_AHostThatGaveARequestBack_IsSentNothingUntilItsNextHeartbeat()
    {
        var stopping = TestPorts.Host(2, "alpha");
        var other = TestPorts.Host(2, "alpha");
        Ports.WorkersOnline(stopping);
        Ports.Hosts.GaveUp(stopping.WorkerId);
        var request = Pending("alpha");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "waits in the queue, not the fallback");

        Ports.WorkersOnline(stopping, other);
        Ports.Clock.UtcNow += ModelHosts.Reuse + TimeSpan.FromMilliseconds(1);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        Assert.That(request.WorkerId, Is.EqualTo(other.WorkerId), "the other host, not the one that gave it back");
    }

    [Test]
    public async Task Dispatch_AModelNoHostServes_IsAnsweredAtOnce_NamingTheModelsOnline()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "alpha"), TestPorts.Host(1, "beta"));
        var request = Pending("gamma");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed));
        Assert.That(request.Error, Is.EqualTo("model_not_served"));
        var answer = Ports.StoredMessages.Single(m => m.Id == request.AnswerMessageId);
        Assert.That(answer.Source, Is.EqualTo(MessageSource.Notice));
        Assert.That(answer.Content, Does.Contain("'gamma'").And.Contain("alpha, beta"));
        Assert.That(Ports.SentToWorkers, Is.Empty);
    }

    [Test]
    public async Task Dispatch_TheDefaultModel_GoesToAnyHost_WhenNoHostListsItByName_AsARequestForItsOwnDefault()
    {
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var request = Pending(null); // the chat names none: the configured default, "default", which no host lists

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.WorkerId, Is.EqualTo(host.WorkerId));
        // No model named: the host answers with its own first model rather than refusing one it does not serve.
        var body = Ports.EnvelopesSentToWorkers.Single().Body.Deserialize<RequestBody>(RelayJson.Options)!;
        Assert.That(body.Model, Is.Null);
    }

    [Test]
    public async Task Dispatch_AModelAHostServes_IsNamedInTheRequest()
    {
        Ports.WorkersOnline(TestPorts.Host(1, "alpha", "beta"));
        Pending("beta");

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        var body = Ports.EnvelopesSentToWorkers.Single().Body.Deserialize<RequestBody>(RelayJson.Options)!;
        Assert.That(body.Model, Is.EqualTo("beta"));
    }

    [Test]
    public async Task Dispatch_TakesTheQueueInTurnsOverUsers()
    {
        var host = TestPorts.Host(1, "alpha");
        Ports.WorkersOnline(host);
        var heavy = Enumerable.Range(0, 4).Select(_ => Pending("alpha")).ToList();
        var bob = Ports.SignIn(new UserBuilder().Named("bob").Build());
        var bobs = Pending("alpha", bob);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var first = Ports.EnvelopesSentToWorkers.Single().RequestId;
        Complete(first);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        var second = Ports.EnvelopesSentToWorkers.Last().RequestId;
        Complete(second);
        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);
        var third = Ports.EnvelopesSentToWorkers.Last().RequestId;

        Assert.That(first, Is.EqualTo(heavy[0].Id.Value), "alice's oldest first: she asked first");
        Assert.That(second, Is.EqualTo(bobs.Id.Value), "bob's only one next, before alice's other three");
        Assert.That(third, Is.EqualTo(heavy[1].Id.Value), "then alice again");
    }

    [Test]
    public async Task Dispatch_TellsTheWaitingTheirPlaceInTheirModelsQueue_AndAboutHowLong()
    {
        var (alpha, beta) = (TestPorts.Host(2, "alpha"), TestPorts.Host(1, "beta"));
        Ports.WorkersOnline(alpha, beta);
        Ports.AnswerTimes.Record(alpha.WorkerId, TimeSpan.FromSeconds(10)); // two slots: one answer every 5 s
        var forAlpha = Enumerable.Range(0, 5).Select(_ => Pending("alpha")).ToList();
        var forBeta = new[] { Pending("beta"), Pending("beta") };

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        var told = Ports.Published.Where(e => e.Status == "queued").ToDictionary(e => e.RequestId!.Value);
        Assert.That(forAlpha.Skip(2).Select(r => told[r.Id.Value].QueuePosition), Is.EqualTo(new int?[] { 1, 2, 3 }));
        Assert.That(forAlpha.Skip(2).Select(r => told[r.Id.Value].EstimatedWaitSeconds), Is.EqualTo(new int?[] { 5, 10, 15 }));
        Assert.That(told[forBeta[1].Id.Value].QueuePosition, Is.EqualTo(1), "each model's queue counts apart");
        Assert.That(told[forBeta[1].Id.Value].EstimatedWaitSeconds, Is.Null, "beta's host has not answered yet");
        Assert.That(forAlpha.Take(2).Concat(forBeta.Take(1)).Select(r => r.Id.Value), Has.None.AnyOf(told.Keys));
    }

    /// <summary>A pending request in a chat of its own (one unfinished request per chat) asking for <paramref name="model"/>.</summary>
    private RelayRequest Pending(string? model, User? owner = null)
    {
        owner ??= Alice;
        var chat = Ports.Remember(new SessionBuilder().OwnedBy(owner).WithModel(model).Build());
        var question = Ports.Remember(chat.PostUserMessage(owner, PromptText.From("Hello?"), Moments.T0));
        return Ports.Remember(new RelayRequestBuilder().ForSession(chat.Id).ForUser(owner.Id).Asking(question.Id).Build());
    }

    private void Complete(Guid requestId)
    {
        var request = Ports.Requests.Object.GetAsync(new RelayRequestId(requestId), CancellationToken.None).Result!;
        request.Acknowledge(Ports.Clock.UtcNow);
        request.Complete(MessageId.New(), Ports.Clock.UtcNow);
    }

    [Test]
    public async Task Dispatch_WithNoLiveWorker_AnswersARequestOnlyTheModelMayAnswer_WithANotice()
    {
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
            .Asking(Question.Id).WithOptions(GenerationOptions.Create(modelOnly: true)).Build());

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        var answer = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(answer.Source, Is.EqualTo(MessageSource.Notice));
        Assert.That(answer.Content, Is.EqualTo(RelayOutcomes.ModelOnlyNotice(RelayTimeoutReason.NoWorker)));
        Ports.Fallback.Verify(f => f.ReplyAsync(It.IsAny<UserId>(), It.IsAny<string>(), It.IsAny<RelayTimeoutReason>(),
            It.IsAny<CancellationToken>()), Times.Never, "the Markov chain never pretends to be the model here");
        Ports.Sessions.Verify(s => s.DeleteAsync(It.IsAny<SessionId>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task ARequestThatKeepsNothing_TakesItsChatWithIt_OnceAnswered()
    {
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
            .Asking(Question.Id).WithOptions(GenerationOptions.Create(modelOnly: true, keepNothing: true)).Build());

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.IsFinished, Is.True);
        Assert.That(Ports.Published.Select(e => e.Type), Does.Contain(ChatEventTypes.Message), "told before it is deleted");
        Ports.Sessions.Verify(s => s.DeleteAsync(Session.Id, It.IsAny<CancellationToken>()), Times.Once);
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
        Ports.Reachability.Setup(r => r.HostsCatchUp).Returns(catchUp);
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
        Ports.Reachability.Setup(r => r.HostsCatchUp).Returns(TimeSpan.FromSeconds(6));
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

    [Test]
    public async Task Dispatch_WithALiveWorker_MarksTheRequestDispatched_AndSendsOneEncryptedRequest()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        Ports.History(Session.Id, new ChatTurn(MessageRole.User, "Why is the sky blue?"));
        var request = Request(RelayRequestStatus.Pending);
        Ports.Clock.Set(2);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(request.AckDeadline, Is.EqualTo(Moments.At(12)));
        Assert.That(request.CompletionDeadline, Is.EqualTo(Moments.At(62)));
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "update request:Dispatched", "send:Request" }),
            "stored before sent, so the worker's ack always finds it dispatched");
        var packet = Ports.SentToWorkers.Single();
        Assert.That(packet.SessionId, Is.EqualTo(Session.Id.Value));
        Ports.Cipher.Verify(c => c.Seal(It.IsAny<RelayEnvelope>(), RelayDirection.ServerToClient), Times.Once);
        var (envelope, direction) = JsonCipher.Read(packet.Wire);
        Assert.That(direction, Is.EqualTo(RelayDirection.ServerToClient));
        Assert.That(envelope.Type, Is.EqualTo(EnvelopeType.Request));
        Assert.That(envelope.SessionId, Is.EqualTo(Session.Id.Value));
        Assert.That(envelope.RequestId, Is.EqualTo(request.Id.Value));
        Assert.That(envelope.SentAt, Is.EqualTo(Moments.At(2)));
        var body = RelayJson.FromBody<RequestBody>(envelope);
        Assert.That(body.Messages, Is.EqualTo(new[] { new TurnBody("user", "Why is the sky blue?") }));
        Assert.That(Ports.Published.Single().Status, Is.EqualTo("dispatched"));
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Dispatch_ABatch_StoresEveryDispatchInOneStatement_ThenSendsEach()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var first = Request(RelayRequestStatus.Pending);
        var second = Request(RelayRequestStatus.Pending);

        Assert.That(await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None), Is.EqualTo(2));

        Assert.That(new[] { first.Status, second.Status }, Is.All.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(Ports.Journal, Is.EqualTo(new[]
        {
            "update request:Dispatched", "update request:Dispatched", "send:Request", "send:Request",
        }));
        Ports.Requests.Verify(r => r.TryUpdateManyAsync(
            It.Is<IReadOnlyCollection<RelayRequest>>(b => b.Count == 2), RelayRequestStatus.Pending,
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Dispatch_ABatchOverSeveralSessions_ReadsNothingBeyondItsClaim_AndStoresOnce()
    {
        // Per request, the batch used to read its session, read its history and store it: three round trips each.
        // Then one read each for the batch's sessions and histories; now they come with the claim.
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var other = Ports.Remember(new SessionBuilder().OwnedBy(Alice).WithSystemPrompt("Be brief.").Build());
        var third = Ports.Remember(new SessionBuilder().OwnedBy(Alice).Build());
        Ports.History(Session.Id, new ChatTurn(MessageRole.User, "Why is the sky blue?"));
        Ports.History(other.Id, new ChatTurn(MessageRole.User, "hi"), new ChatTurn(MessageRole.Assistant, "hello"),
            new ChatTurn(MessageRole.User, "and?"));
        var requests = new[]
        {
            Request(RelayRequestStatus.Pending),
            Ports.Remember(new RelayRequestBuilder().ForSession(other.Id).ForUser(Alice.Id).Build()),
            Ports.Remember(new RelayRequestBuilder().ForSession(third.Id).ForUser(Alice.Id).Build()),
            Request(RelayRequestStatus.Pending),
        };

        Assert.That(await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None), Is.EqualTo(4));

        Assert.That(requests.Select(r => r.Status), Is.All.EqualTo(RelayRequestStatus.Dispatched));
        Ports.Requests.Verify(r => r.ClaimPendingAsync(It.IsAny<int>(), Ports.RelayOptions.MaxHistoryMessages,
            It.IsAny<DateTimeOffset>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()), Times.Once);
        Ports.Requests.Verify(r => r.TryUpdateManyAsync(
            It.Is<IReadOnlyCollection<RelayRequest>>(b => b.Count == 4), RelayRequestStatus.Pending,
            It.IsAny<CancellationToken>()), Times.Once);
        Ports.Sessions.Verify(s => s.GetAsync(It.IsAny<SessionId>(), It.IsAny<CancellationToken>()), Times.Never);
        Ports.Reads.Verify(r => r.GetRecentTurnsAsync(It.IsAny<SessionId>(), It.IsAny<int>(),
            It.IsAny<CancellationToken>()), Times.Never);
        Ports.Requests.Verify(r => r.TryUpdateAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(),
            It.IsAny<CancellationToken>()), Times.Never);
        Ports.UnitOfWork.VerifyNoOtherCalls();

        // Each prompt is built from its own session's history and settings.
        var sent = Ports.EnvelopesSentToWorkers.ToDictionary(e => e.RequestId, RelayJson.FromBody<RequestBody>);
        Assert.That(sent.Keys, Is.EqualTo(requests.Select(r => r.Id.Value)), "sent in the order claimed");
        Assert.That(sent[requests[0].Id.Value].Messages, Is.EqualTo(new[] { new TurnBody("user", "Why is the sky blue?") }));
        Assert.That(sent[requests[1].Id.Value].Messages, Is.EqualTo(new[]
        {
            new TurnBody("user", "hi"), new TurnBody("assistant", "hello"), new TurnBody("user", "and?"),
        }));
        Assert.That(sent[requests[1].Id.Value].SystemPrompt, Is.EqualTo("Be brief."));
        Assert.That(sent[requests[2].Id.Value].Messages, Is.Empty, "a session without turns yet");
        Assert.That(sent[requests[3].Id.Value].Messages, Is.EqualTo(sent[requests[0].Id.Value].Messages));
    }

    [Test]
    public async Task Dispatch_WhenAnotherProcessCancelledTheClaimedRequest_SendsNothingForIt()
    {
        // Claimed as pending; a cancel elsewhere landed before the dispatch was stored: it must not be undone.
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var cancelledElsewhere = Request(RelayRequestStatus.Pending);
        var other = Request(RelayRequestStatus.Pending);
        Ports.Requests.Setup(r => r.ClaimPendingAsync(It.IsAny<int>(), It.IsAny<int>(), It.IsAny<DateTimeOffset>(),
                It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((int max, int historyMessages, DateTimeOffset _, DateTimeOffset _, CancellationToken _) =>
            {
                var claimed = Ports.Claim(max, historyMessages);
                Ports.ChangedElsewhere(cancelledElsewhere.Id, RelayRequestStatus.Cancelled);
                return claimed;
            });

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(Ports.Journal, Is.EqualTo(new[]
        {
            "skip request:Dispatched", "update request:Dispatched", "send:Request",
        }));
        Ports.Requests.Verify(r => r.TryUpdateManyAsync(
            It.Is<IReadOnlyCollection<RelayRequest>>(b => b.Count == 2), RelayRequestStatus.Pending,
            It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(Ports.EnvelopesSentToWorkers.Single().RequestId, Is.EqualTo(other.Id.Value));
        Assert.That(Ports.Published.Select(e => e.RequestId), Is.EqualTo(new[] { other.Id.Value }));
    }

    [Test]
    public async Task Dispatch_WithNothingPending_DoesNothing()
    {
        Request(RelayRequestStatus.Streaming);

        Assert.That(await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None), Is.Zero);
        Assert.That(Ports.Journal, Is.Empty);
        Ports.Presence.Verify(p => p.ListAliveAsync(It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task Dispatch_RequestWhoseSessionIsGone_IsCancelled_AndNothingIsSent()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        var orphan = Ports.Remember(new RelayRequestBuilder().Build());
        var request = Request(RelayRequestStatus.Pending);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(orphan.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        Assert.That(Ports.EnvelopesSentToWorkers.Select(e => e.RequestId), Is.EqualTo(new[] { request.Id.Value }));
        Assert.That(Ports.Journal, Is.EqualTo(new[]
        {
            "update request:Cancelled", "update request:Dispatched", "send:Request",
        }), "stored with the batch, in the same statement, only if still pending");
    }
}

public class HandleWorkerPacketTests : RelayHandlerTestBase
{
    private readonly Guid _workerId = Guid.NewGuid();

    private IRequestHandler<HandleWorkerPacket, IReadOnlyList<RelayPacket>> Handler =>
        Ports.Relay<IRequestHandler<HandleWorkerPacket, IReadOnlyList<RelayPacket>>>();

    [TestCase(RelayErrorCodes.Shutdown)]
    [TestCase(RelayErrorCodes.Draining)]
    [TestCase(RelayErrorCodes.EngineLost)]
    public async Task AHostThatStopsOrLosesItsEngine_HandsTheRequestBackToBeAskedAgain(string code)
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Receive(EnvelopeType.Error, request, 1, new ErrorBody(code, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(StoredAnswers, Is.Zero, "no notice: another host answers");
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("requeued"));
    }

    [Test]
    public async Task AnEngineLostOnTheLastAttempt_IsAskedAgain_ARestartIsNotAnAttemptUsedUp()
    {
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts);

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(StoredAnswers, Is.Zero);
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("requeued"));
    }

    [Test]
    public async Task AQuestionThatKillsTheEngineEveryTime_EndsWithANotice()
    {
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts + Ports.RelayOptions.EngineLostRetries);

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed));
        Assert.That(StoredAnswers, Is.EqualTo(1), "the user is told");
        Assert.That(Ports.Published.Select(e => e.Status), Does.Not.Contain("requeued"));
    }

    [Test]
    public async Task AHostStoppingOnTheLastAttempt_EndsWithANotice()
    {
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts);

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.Shutdown, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed));
        Assert.That(StoredAnswers, Is.EqualTo(1), "the user is told");
    }

    [Test]
    public async Task AHostStoppingOnTheLastAttempt_WhileAnotherHostServesTheModel_HandsItToThatHost_NoNotice()
    {
        Ports.WorkersOnline(
            new WorkerHealth(_workerId, "scripted", true, 1, true, null, Moments.T0, Models: ["alpha"]),
            new WorkerHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]));
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts, model: "alpha");

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.Shutdown, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(StoredAnswers, Is.Zero, "no notice while another host of its model is online");
    }

    [Test]
    public async Task AHostStoppingPastTheCap_EndsWithANotice_EvenWithAnotherHostOnline()
    {
        Ports.WorkersOnline(new WorkerHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]));
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts + Ports.RelayOptions.HostFailureRetries, model: "alpha");

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.Shutdown, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed), "a question every host fails on still ends");
        Assert.That(StoredAnswers, Is.EqualTo(1));
    }

    /// <summary>A request sent <paramref name="attempts"/> times, stored as such.</summary>
    private RelayRequest DispatchedFor(int attempts, string? model = null)
    {
        var request = Request(RelayRequestStatus.Dispatched);
        for (var attempt = 1; attempt < attempts; attempt++)
        {
            request.Requeue();
            request.Dispatch(Moments.At(attempt), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), _workerId, model);
        }

        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        return request;
    }

    private static int LastSeqOf(RelayRequest request) => (request.Attempts - 1) * RelayRequest.SeqPerAttempt + 1;

    [TestCase("lizard-7b", "lizard-7b")]
    [TestCase(null, null)]
    [TestCase("not a model name!", null)]
    public async Task TheAnswer_RecordsTheModelItsHostNamed(string? named, string? recorded)
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Receive(EnvelopeType.Final, request, 1, new FinalBody("an answer", 3, 2, 10, "stop", Model: named));

        var answer = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(answer.Model, Is.EqualTo(recorded));
        Assert.That(Ports.Published.Single(e => e.Type == ChatEventTypes.Message).Message!.Model, Is.EqualTo(recorded));
    }

    [Test]
    public async Task EnvelopesOfAnEarlierAttempt_AreIgnored_TheCurrentAttemptsAreApplied()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        request.Requeue();
        request.Dispatch(Moments.At(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), Guid.NewGuid());
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        var second = RelayRequest.SeqPerAttempt;

        await Receive(EnvelopeType.Partial, request, 3, new PartialBody("from the host that went quiet"));
        await Receive(EnvelopeType.Final, request, 4, new FinalBody("old answer", 1, 1, 1, "stop"));
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched), "the first attempt's envelopes change nothing");
        await Receive(EnvelopeType.Final, request, second + 1, new FinalBody("new answer", 1, 1, 1, "stop"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Content, Is.EqualTo("new answer"));
    }

    private Task Receive<TBody>(EnvelopeType type, RelayRequest request, int seq, TBody body,
        RelayDirection direction = RelayDirection.ClientToServer) =>
        Handler.Handle(new HandleWorkerPacket(new RelayPacket(request.SessionId.Value, JsonCipher.Seal(
            new RelayEnvelope(type, request.SessionId.Value, request.Id.Value, seq, Ports.Clock.UtcNow,
                RelayJson.ToBody(body)), direction))), CancellationToken.None);

    private static FinalBody Final(string content = "Rayleigh scattering.") => new(content, 12, 4, 800, "stop");

    [Test]
    public async Task RejectedEnvelope_ChangesNothing()
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Handler.Handle(new HandleWorkerPacket(new RelayPacket(Session.Id.Value, JsonCipher.Garbage)),
            CancellationToken.None);
        await Receive(EnvelopeType.Final, request, 1, Final(), RelayDirection.ServerToClient); // reflected back

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Ports.Requests.Verify(r => r.GetAsync(It.IsAny<RelayRequestId>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(Ports.Journal, Is.Empty);
        Assert.That(Ports.Published, Is.Empty);
        Ports.Presence.VerifyNoOtherCalls();
    }

    private RelayPacket Packet<TBody>(EnvelopeType type, RelayRequest request, int seq, TBody body) =>
        new(request.SessionId.Value, JsonCipher.Seal(new RelayEnvelope(type, request.SessionId.Value, request.Id.Value,
            seq, Ports.Clock.UtcNow, RelayJson.ToBody(body)), RelayDirection.ClientToServer));

    [Test]
    public async Task QuickAnswer_EnvelopesArrivingTogether_AreStoredOnce_WithoutReadingTheRequest()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Streams.RememberStored(request); // as the dispatcher left it

        await Handler.Handle(new HandleWorkerPacket([
            Packet(EnvelopeType.Ack, request, 0, new AckBody(_workerId)),
            Packet(EnvelopeType.Partial, request, 1, new PartialBody("Rayleigh ")),
            Packet(EnvelopeType.Partial, request, 2, new PartialBody("scattering.")),
            Packet(EnvelopeType.Final, request, 3, Final("Rayleigh scattering.")),
        ]), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(request.AckedAt, Is.Not.Null);
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "update request:Completed with answer:Model" }),
            "one conditional write of the request's last state, with the answer");
        Ports.Requests.Verify(r => r.GetAsync(It.IsAny<RelayRequestId>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(Ports.Published.Select(e => (e.Type, e.Seq)), Is.EqualTo(new (string, int?)[]
        {
            (ChatEventTypes.Delta, 1), (ChatEventTypes.Delta, 2), (ChatEventTypes.Message, null), (ChatEventTypes.Status, null),
        }), "deltas that add up to the answer, then the answer");
        Assert.That(Ports.PublishedUnits, Has.Count.EqualTo(1),
            "the pieces that came with the final are published with the answer, in one publish");
        Assert.That(StoredAnswers, Is.EqualTo(1));
    }

    [Test]
    public async Task PiecesArrivingTogether_AreStoredOnce_AndPublishedInOrder_ThenTheKeptCopyIsUsed()
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Handler.Handle(new HandleWorkerPacket([
            Packet(EnvelopeType.Ack, request, 0, new AckBody(_workerId)),
            Packet(EnvelopeType.Partial, request, 1, new PartialBody("Ray")),
            Packet(EnvelopeType.Partial, request, 2, new PartialBody("leigh")),
        ]), CancellationToken.None);
        await Receive(EnvelopeType.Partial, request, 3, new PartialBody(" scattering"));

        Assert.That(Ports.Journal, Is.EqualTo(new[] { "update request:Streaming" }),
            "the ack and the first piece in one write; later pieces are kept in memory");
        Assert.That(Ports.Published.Select(e => (e.Seq, e.Text)), Is.EqualTo(new (int?, string?)[]
        {
            (1, "Ray"), (2, "leigh"), (3, " scattering"),
        }));
        Assert.That(Ports.PublishedUnits.Select(u => u.Count), Is.EqualTo(new[] { 2, 1 }),
            "the pieces that arrived together in one publish");
        Ports.Requests.Verify(r => r.GetAsync(request.Id, It.IsAny<CancellationToken>()), Times.Once,
            "read once; then the copy this process stored is used");
    }

    [Test]
    public async Task KeptCopy_MadeStaleByAnotherProcess_IsReadAgain_AndNothingIsOverwritten()
    {
        var stored = Request(RelayRequestStatus.Dispatched);
        var stale = RelayRequest.Restore(stored.Id, stored.SessionId, stored.UserId, stored.UserMessageId,
            stored.Sampling, stored.Status, stored.Attempts, stored.LastSeq, stored.CreatedAt, stored.DispatchedAt,
            stored.AckedAt, stored.AckDeadline, stored.CompletionDeadline, null, null, null, null);
        Ports.Streams.RememberStored(stale);
        stored.Cancel(Ports.Clock.UtcNow); // another process stopped it
        Ports.ChangedElsewhere(stored.Id, RelayRequestStatus.Cancelled);

        await Receive(EnvelopeType.Final, stale, 1, Final());

        Ports.Requests.Verify(r => r.GetAsync(stored.Id, It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(StoredAnswers, Is.Zero);
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "skip request:Completed" }));
        Assert.That(Ports.Published, Is.Empty);
        Assert.That(stored.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
    }

    [Test]
    public async Task Ack_RecordsTheAcknowledgement_Once()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Clock.Set(3);

        await Receive(EnvelopeType.Ack, request, 0, new AckBody(_workerId));
        Ports.Clock.Set(4);
        await Receive(EnvelopeType.Ack, request, 0, new AckBody(_workerId));

        Assert.That(request.AckedAt, Is.EqualTo(Moments.At(3)));
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "update request:Dispatched" }));
    }

    [Test]
    public async Task Partial_PublishesADeltaWithItsSeq_AndStartsStreaming()
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("Ray"));
        await Receive(EnvelopeType.Partial, request, 2, new PartialBody("leigh"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Streaming));
        Assert.That(Ports.Published, Is.EqualTo(new[]
        {
            new ChatEvent(ChatEventTypes.Delta, Session.Id.Value, request.Id.Value, Seq: 1, Text: "Ray"),
            new ChatEvent(ChatEventTypes.Delta, Session.Id.Value, request.Id.Value, Seq: 2, Text: "leigh"),
        }));
        Assert.That(Ports.Streams.Peek(request.Id.Value)?.Text, Is.EqualTo("Rayleigh"));
    }

    [Test]
    public async Task ModelOutput_WithControlCharactersAndBrokenUtf16_IsStreamedAndStoredCleaned()
    {
        // PostgreSQL refuses NUL in text where SQLite keeps it: cleaned once, here, every client reads the same text and
        // every database stores it.
        var request = Request(RelayRequestStatus.Dispatched);

        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("nul\0 bell\a\ttab"));
        await Receive(EnvelopeType.Partial, request, 2, new PartialBody(" lone\ud83e 🦎\u009b\r\n"));
        await Receive(EnvelopeType.Final, request, 3, Final("nul\0 bell\a\ttab lone\ud83e 🦎\u009b\r\n"));

        Assert.That(Ports.Published.Where(e => e.Type == ChatEventTypes.Delta).Select(e => e.Text),
            Is.EqualTo(new[] { "nul bell\ttab", " lone\uFFFD 🦎\r\n" }));
        var answer = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(answer.Content, Is.EqualTo("nul bell\ttab lone\uFFFD 🦎\r\n"));
        Assert.That(Ports.Published.Single(e => e.Type == ChatEventTypes.Message).Message!.Content, Is.EqualTo(answer.Content));
    }

    [Test]
    public async Task Partial_RepeatedOrOutOfOrder_IsIgnored()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        await Receive(EnvelopeType.Partial, request, 2, new PartialBody("b"));

        await Receive(EnvelopeType.Partial, request, 2, new PartialBody("b"));
        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("a"));

        Assert.That(Ports.Published.Select(e => e.Seq), Is.EqualTo(new int?[] { 2 }));
        Assert.That(Ports.Streams.Peek(request.Id.Value)?.Text, Is.EqualTo("b"));
    }

    [Test]
    public async Task Partial_AfterCancel_IsIgnored()
    {
        var request = Request(RelayRequestStatus.Cancelled);

        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("late"));

        Assert.That(Ports.Published, Is.Empty);
        Assert.That(Ports.Streams.Peek(request.Id.Value), Is.Null);
    }

    [Test]
    public async Task Final_AfterAnotherProcessCancelledTheRequest_StoresAndTellsNothing()
    {
        var request = Request(RelayRequestStatus.Streaming);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Cancelled);

        await Receive(EnvelopeType.Final, request, 3, Final());

        Assert.That(StoredAnswers, Is.Zero);
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "skip request:Completed" }));
        Assert.That(Ports.Published, Is.Empty);
        Ports.Metrics.Verify(m => m.RecordAsync(It.IsAny<RequestMetric>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task Final_WhileTheDatabaseIsBrieflyUnreachable_IsStoredOnceItIsBack_NotLost()
    {
        var request = Request(RelayRequestStatus.Streaming);
        var refusals = 2;
        Ports.Requests.Setup(r => r.TryUpdateWithAnswerAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(),
                It.IsAny<Message>(), It.IsAny<CancellationToken>()))
            .Returns((RelayRequest _, RelayRequestStatus _, Message answer, CancellationToken _) =>
                refusals-- > 0 ? throw new FakeDatabaseException(transient: true) : StoreAnswer(answer));

        await Receive(EnvelopeType.Final, request, 3, Final());

        Assert.That(refusals, Is.EqualTo(-1), "tried three times");
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Source, Is.EqualTo(MessageSource.Model));
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("completed"));
    }

    [Test]
    public async Task Final_TheDatabaseRefuses_EndsTheRequestWithANoticeAtOnce_NotAtTheCompletionTimeout()
    {
        var request = Request(RelayRequestStatus.Streaming);
        Ports.Requests.Setup(r => r.TryUpdateWithAnswerAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(),
                It.Is<Message>(m => m.Source == MessageSource.Model), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new FakeDatabaseException(transient: false));
        Ports.Requests.Setup(r => r.TryUpdateWithAnswerAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(),
                It.Is<Message>(m => m.Source == MessageSource.Notice), It.IsAny<CancellationToken>()))
            .Returns((RelayRequest _, RelayRequestStatus _, Message answer, CancellationToken _) => StoreAnswer(answer));
        // Read again from the store, where the request is still streaming (the refused write changed nothing there).
        // Each read is a fresh copy, as from a database.
        var (status, dispatchedAt, ackedAt) = (request.Status, request.DispatchedAt, request.AckedAt);
        Ports.Requests.Setup(r => r.GetAsync(request.Id, It.IsAny<CancellationToken>())).ReturnsAsync(() =>
            RelayRequest.Restore(request.Id, request.SessionId, request.UserId, request.UserMessageId, request.Sampling,
                status, request.Attempts, request.LastSeq, request.CreatedAt, dispatchedAt, ackedAt, request.AckDeadline,
                request.CompletionDeadline, null, null, null, null));

        await Receive(EnvelopeType.Final, request, 3, Final());

        Assert.That(StoredAnswers, Is.EqualTo(1), string.Join(" / ", Ports.Journal));
        var notice = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(notice.Source, Is.EqualTo(MessageSource.Notice));
        Assert.That(notice.Content, Does.Contain("could not be stored"));
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("failed"));
    }

    [Test]
    public async Task Final_WhoseHandlingFailed_IsNotMarkedHandled_SoTheSameEnvelopeReadAgainStoresTheModelsAnswer()
    {
        // The replay memory and the transport's place used to be marked when the envelope was opened: a final whose
        // request could not be read then (the database restarting) was refused as a replay when read again.
        var request = Request(RelayRequestStatus.Streaming);
        var failures = 1;
        Ports.Requests.Setup(r => r.GetAsync(request.Id, It.IsAny<CancellationToken>()))
            .Returns(() => failures-- > 0 ? throw new FakeDatabaseException(transient: true) : Task.FromResult<RelayRequest?>(request));
        var delivery = new CountedDelivery();
        var packet = new RelayPacket(request.SessionId.Value, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Final,
            request.SessionId.Value, request.Id.Value, 3, Ports.Clock.UtcNow, RelayJson.ToBody(Final())),
            RelayDirection.ClientToServer)) { Delivery = delivery };

        await Handler.Handle(new HandleWorkerPacket(packet), CancellationToken.None);
        Assert.That((StoredAnswers, delivery.Count), Is.EqualTo((0, 0)), "nothing stored, not handled");

        await Handler.Handle(new HandleWorkerPacket(packet), CancellationToken.None);
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Source, Is.EqualTo(MessageSource.Model));
        Assert.That(delivery.Count, Is.EqualTo(1), "handled once stored");

        await Handler.Handle(new HandleWorkerPacket(packet), CancellationToken.None);
        Assert.That((StoredAnswers, delivery.Count), Is.EqualTo((1, 2)), "a third copy is refused as a replay, and handled");
    }

    private sealed class CountedDelivery : RelayDelivery
    {
        public int Count { get; private set; }

        public override void Handled() => Count++;
    }

    private Task<bool> StoreAnswer(Message answer)
    {
        Ports.AddStoredMessage(answer);
        return Task.FromResult(true);
    }

    /// <summary>A database error as a provider reports it: one that may pass (an outage) or one that will not.</summary>
    private sealed class FakeDatabaseException(bool transient) : System.Data.Common.DbException("database error")
    {
        public override bool IsTransient => transient;
    }

    [Test]
    public async Task Final_StoresTheAssistantMessageFromTheModel_AndCompletesTheRequest()
    {
        var request = Request(RelayRequestStatus.Streaming);
        Ports.Streams.Append(request.Id.Value, 1, "Ray");
        Ports.Clock.Set(5);

        await Receive(EnvelopeType.Final, request, 3, Final());

        var answer = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(answer.Source, Is.EqualTo(MessageSource.Model));
        Assert.That(answer.Content, Is.EqualTo("Rayleigh scattering."), "the final is authoritative");
        Assert.That(answer.Tokens, Is.EqualTo(new TokenCounts(12, 4)));
        Assert.That(answer.RequestId, Is.EqualTo(request.Id));
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(request.AnswerMessageId, Is.EqualTo(answer.Id));
        Assert.That(Ports.Journal, Is.EqualTo(new[]
        {
            "update request:Completed with answer:Model",
        }));
        Assert.That(Ports.Published.Select(e => (e.Type, e.Status)), Is.EqualTo(new[]
        {
            (ChatEventTypes.Message, (string?)null), (ChatEventTypes.Status, "completed"),
        }));
        Assert.That(Ports.Published[0].Message!.Id, Is.EqualTo(answer.Id.Value));
        Assert.That(Ports.PublishedUnits, Has.Count.EqualTo(1), "the answer and its status in one publish");
        Ports.Fallback.Verify(f => f.Learn(request.UserId, "Rayleigh scattering."), Times.Once);
        Ports.Metrics.Verify(m => m.RecordAsync(It.Is<RequestMetric>(x => x.Outcome == "completed"
            && x.InferenceMs == 800 && x.PromptTokens == 12 && x.CompletionTokens == 4 && !x.Fallback),
            It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(Ports.Streams.Peek(request.Id.Value), Is.Null);
    }

    [Test]
    public async Task Final_WithTheEnginesTimings_RecordsThemForTheFigures()
    {
        var request = Request(RelayRequestStatus.Streaming);

        await Receive(EnvelopeType.Final, request, 3, Final() with { PromptMs = 3.5, GenerationMs = 40.25, CachedPromptTokens = 9 });

        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Tokens,
            Is.EqualTo(new TokenCounts(12, 4)));
        Ports.Metrics.Verify(m => m.RecordAsync(It.Is<RequestMetric>(x => x.InferenceMs == 800 && x.PromptMs == 3.5
            && x.GenerationMs == 40.25 && x.CompletionTokens == 4), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Final_FromAnOlderWorkerWithoutTimings_IsStoredAsBefore()
    {
        var request = Request(RelayRequestStatus.Streaming);
        var body = System.Text.Json.JsonDocument.Parse(
            "{\"content\":\"Old.\",\"promptTokens\":12,\"completionTokens\":4,\"inferenceMs\":800,\"finishReason\":\"stop\"}");

        await Handler.Handle(new HandleWorkerPacket(new RelayPacket(request.SessionId.Value, JsonCipher.Seal(
            new RelayEnvelope(EnvelopeType.Final, request.SessionId.Value, request.Id.Value, 3, Ports.Clock.UtcNow,
                body.RootElement.Clone()), RelayDirection.ClientToServer))), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Tokens,
            Is.EqualTo(new TokenCounts(12, 4)));
        Ports.Metrics.Verify(m => m.RecordAsync(It.Is<RequestMetric>(x => x.InferenceMs == 800 && x.PromptMs == null
            && x.GenerationMs == null), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Final_Duplicate_IsANoOp_TheAnswerIsStoredOnce()
    {
        var request = Request(RelayRequestStatus.Streaming);

        await Receive(EnvelopeType.Final, request, 3, Final());
        var publishedAfterFirst = Ports.Published.Count;
        await Receive(EnvelopeType.Final, request, 3, Final());

        Assert.That(StoredAnswers, Is.EqualTo(1));
        Ports.Requests.Verify(r => r.TryUpdateWithAnswerAsync(It.IsAny<RelayRequest>(), It.IsAny<RelayRequestStatus>(),
            It.IsAny<Message>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(Ports.Published, Has.Count.EqualTo(publishedAfterFirst));
    }

    [Test]
    public async Task Final_AfterTheFallbackAnswered_IsIgnored()
    {
        var request = Request(RelayRequestStatus.Fallback);

        await Receive(EnvelopeType.Final, request, 3, Final());

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Final_ForARequestOfAnotherSession_IsIgnored()
    {
        // Sent on the other session's own channel, so the cipher accepts it and the handler must notice.
        var request = Request(RelayRequestStatus.Streaming);
        var otherSession = Guid.NewGuid();
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Final, otherSession, request.Id.Value, 3,
            Ports.Clock.UtcNow, RelayJson.ToBody(Final())), RelayDirection.ClientToServer);

        await Handler.Handle(new HandleWorkerPacket(new RelayPacket(otherSession, wire)), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Streaming));
        Assert.That(StoredAnswers, Is.Zero);
        Ports.Requests.Verify(r => r.GetAsync(request.Id, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task Final_WithAMalformedBody_IsRejected_AndChangesNothing()
    {
        var request = Request(RelayRequestStatus.Streaming);

        await Receive(EnvelopeType.Final, request, 3, new[] { 1, 2, 3 });

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Streaming));
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Error_StoresANotice_AndFailsTheRequest()
    {
        var request = Request(RelayRequestStatus.Streaming);

        await Receive(EnvelopeType.Error, request, 2, new ErrorBody("inference_failed", "the model file is missing"));

        Assert.That(StoredAnswers, Is.EqualTo(1), string.Join(" / ", Ports.Journal));
        var notice = Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant);
        Assert.That(notice.Source, Is.EqualTo(MessageSource.Notice));
        Assert.That(notice.Content, Does.Contain("the model file is missing"));
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed));
        Assert.That(request.Error, Is.EqualTo("inference_failed"));
        Assert.That(request.AnswerMessageId, Is.EqualTo(notice.Id));
        Assert.That(Ports.Published.Select(e => e.Type),
            Is.EqualTo(new[] { ChatEventTypes.Error, ChatEventTypes.Message, ChatEventTypes.Status }));
        Assert.That(Ports.Published[0].Error, Is.EqualTo("the model file is missing"));
        Assert.That(Ports.PublishedUnits, Has.Count.EqualTo(1), "the error, the notice and the status in one publish");
    }

    [Test]
    public async Task Error_AfterCompletion_IsIgnored()
    {
        var request = Request(RelayRequestStatus.Completed);

        await Receive(EnvelopeType.Error, request, 9, new ErrorBody("late", "late"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Heartbeat_ReadLateAfterARestart_OlderThanTheWorkerTimeout_DoesNotCountTheWorkerAlive()
    {
        Ports.Clock.Set(7);
        RelayPacket Beat(int seq, DateTimeOffset sentAt) => new(null, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat,
            Guid.Empty, _workerId, seq, sentAt, RelayJson.ToBody(new HeartbeatBody(_workerId, "llama-server", true, 0, false, null))),
            RelayDirection.ClientToServer)) { Delivery = new CountedDelivery { CaughtUp = true } };
        var old = Beat(1, Ports.Clock.UtcNow - Ports.RelayOptions.WorkerTimeout - TimeSpan.FromSeconds(1));
        var recent = Beat(2, Ports.Clock.UtcNow - Ports.RelayOptions.WorkerTimeout + TimeSpan.FromSeconds(1));

        await Handler.Handle(new HandleWorkerPacket([old]), CancellationToken.None);
        Ports.Presence.Verify(p => p.RecordAsync(It.IsAny<WorkerHealth>(), It.IsAny<CancellationToken>()), Times.Never);
        await Handler.Handle(new HandleWorkerPacket([recent]), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(It.IsAny<WorkerHealth>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(((CountedDelivery)old.Delivery!).Count, Is.EqualTo(1), "handled: not read again");
    }

    [Test]
    public async Task Heartbeat_RecordsTheWorkersPresence()
    {
        Ports.Clock.Set(7);
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, _workerId, 4, Ports.Clock.UtcNow,
            RelayJson.ToBody(new HeartbeatBody(_workerId, "llama-server", true, 1, false, null))),
            RelayDirection.ClientToServer);

        await Handler.Handle(new HandleWorkerPacket(new RelayPacket(null, wire)), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(
            new WorkerHealth(_workerId, "llama-server", true, 1, false, null, Moments.At(7)),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [TestCase("{\"workerId\":\"W\",\"engine\":\"LlamaServer\",\"engineReady\":false,\"jobsRunning\":0,\"draining\":false,\"lastError\":\"llama-server is loading the model\",\"engineLoading\":true}", true)]
    [TestCase("{\"workerId\":\"W\",\"engine\":\"LlamaServer\",\"engineReady\":false,\"jobsRunning\":0,\"draining\":false,\"lastError\":null}", false)]
    [TestCase("{\"workerId\":\"W\",\"engine\":\"LlamaServer\",\"engineReady\":false,\"jobsRunning\":0,\"draining\":false,\"lastError\":\"stopped\",\"engineLoading\":true,\"engineRestarting\":true}", true)]
    public async Task Heartbeat_RecordsWhetherTheModelIsLoading_AnOlderWorkerWithoutTheFieldIsNot(string body, bool loading)
    {
        Ports.Clock.Set(7);
        var json = System.Text.Json.JsonDocument.Parse(body.Replace("\"W\"", $"\"{_workerId}\"", StringComparison.Ordinal));
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, _workerId, 4, Ports.Clock.UtcNow,
            json.RootElement.Clone()), RelayDirection.ClientToServer);

        await Handler.Handle(new HandleWorkerPacket(new RelayPacket(null, wire)), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(
            It.Is<WorkerHealth>(h => h.WorkerId == _workerId && !h.EngineReady && h.EngineLoading == loading
                                     && h.Accepts == loading),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task AHostWhoseEngineIsBack_WakesTheDispatcherAtOnce_NotAtItsNextPoll()
    {
        async Task BeatAsync(int seq, bool ready, bool restarting)
        {
            var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, _workerId, seq, Ports.Clock.UtcNow,
                RelayJson.ToBody(new HeartbeatBody(_workerId, "LlamaServer", ready, 0, false, null, EngineLoading: !ready,
                    EngineRestarting: restarting))), RelayDirection.ClientToServer);
            await Handler.Handle(new HandleWorkerPacket(new RelayPacket(null, wire)), CancellationToken.None);
        }

        await BeatAsync(1, ready: true, restarting: false);
        Ports.QueueSignal.Invocations.Clear();
        await BeatAsync(2, ready: false, restarting: true);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Never, "a host whose engine is starting again takes nothing");
        await BeatAsync(3, ready: true, restarting: false);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "its engine is back: what waits may go to it now");
        await BeatAsync(4, ready: true, restarting: false);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "no change, no wake-up");
    }

    [Test]
    public async Task AHostBackAsANewRun_OrAfterItWasGone_WakesTheDispatcher()
    {
        var firstRun = Guid.NewGuid();
        async Task BeatAsync(int seq, Guid boot)
        {
            var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, _workerId, seq, Ports.Clock.UtcNow,
                RelayJson.ToBody(new HeartbeatBody(_workerId, "LlamaServer", true, 0, false, null, BootId: boot))),
                RelayDirection.ClientToServer);
            await Handler.Handle(new HandleWorkerPacket(new RelayPacket(null, wire)), CancellationToken.None);
        }

        Ports.Clock.Set(10);
        await BeatAsync(1, firstRun);
        await BeatAsync(2, firstRun);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "it came online: once");
        var secondRun = Guid.NewGuid();
        await BeatAsync(3, secondRun);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Exactly(2), "a new run of it (killed and started again)");
        Ports.Clock.Set(10 + Ports.RelayOptions.WorkerTimeout.TotalSeconds * 3);
        await BeatAsync(4, secondRun);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Exactly(3), "back after it was gone");
    }

    [TestCase(false, true, true)]
    [TestCase(true, true, false)]
    [TestCase(false, false, false)]
    public async Task Heartbeat_RecordsAnEngineStartingAgain_WhichTakesNoWorkButCounts(bool ready, bool restarting, bool recorded)
    {
        Ports.Clock.Set(7);
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, _workerId, 4, Ports.Clock.UtcNow,
            RelayJson.ToBody(new HeartbeatBody(_workerId, "LlamaServer", ready, 0, false, null, EngineLoading: !ready,
                EngineRestarting: restarting))), RelayDirection.ClientToServer);

        await Handler.Handle(new HandleWorkerPacket(new RelayPacket(null, wire)), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(
            It.Is<WorkerHealth>(h => h.EngineRestarting == recorded && h.Accepts && h.TakesWork == !recorded),
            It.IsAny<CancellationToken>()), Times.Once);
    }
}

public class ExpireOverdueRequestsTests : RelayHandlerTestBase
{
    // The builder dispatches at T0+1 with a 10 s ack timeout and a 60 s completion timeout.
    private IRequestHandler<ExpireOverdueRequests, int> Handler =>
        Ports.Relay<IRequestHandler<ExpireOverdueRequests, int>>();

    [Test]
    public async Task ARequestWhoseHostWentQuiet_GoesBackToTheQueueForAnotherHost_Once()
    {
        _ = Ports.Hosts; // this process started at T0
        var gone = Guid.NewGuid();
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120), gone);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        Ports.Clock.Set(Ports.RelayOptions.WorkerTimeout.TotalSeconds + 1);

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
    public async Task ARequestAHostTookUpBeforeItRestarted_GoesBackToTheQueue_OneSentAfterStays()
    {
        var host = Guid.NewGuid();
        Ports.WorkersOnline(new WorkerHealth(host, "scripted", true, 0, false, null, Moments.T0));
        var before = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
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
    public async Task JustAfterAStart_AHostNotHeardYet_DoesNotCountAsGone()
    {
        _ = Ports.Hosts;
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
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

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.EqualTo(1));
        Assert.Multiple(() =>
        {
            Assert.That(duringTheOutage, Is.Zero, "nothing is late for an outage of the way to the host");
            Assert.That(withinTheHeldTime, Is.Zero);
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

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.EqualTo(1));
        Assert.That(held, Is.Zero, "held 5 s at most: the host's clock reads T0+10 at T0+15");
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
    }

    [Test]
    public async Task AHostGoneQuiet_WhenDiscordDoesNotAnswerEither_IsNotTakenForGone()
    {
        _ = Ports.Hosts; // this process started at T0
        Ports.Reachability.Setup(r => r.IsReachableAsync(It.IsAny<CancellationToken>())).ReturnsAsync(false);
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
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
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
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
    public async Task Overdue_WithoutAck_FallsBackForNoAck_AndTellsTheWorkerToStop()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Clock.Set(11);

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.EqualTo(1));

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
        var silent = new WorkerHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        var other = new WorkerHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]);
        var beta = new WorkerHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["beta"]);
        Ports.WorkersOnline(silent, other, beta);
        var request = SentTo(silent.WorkerId, "alpha");
        Ports.Clock.Set(12);
        Ports.WorkersOnline(silent with { SeenAt = Moments.At(12) }, other with { SeenAt = Moments.At(12) }, beta);

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.EqualTo(1));

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
        var silent = new WorkerHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(silent);
        var request = SentTo(silent.WorkerId, "alpha");
        Ports.Clock.Set(12);
        Ports.WorkersOnline(silent with { SeenAt = Moments.At(12) });

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.EqualTo(1));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending), "back in the queue, for the same host");
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task Overdue_WithoutAck_FromAHostSilentSinceItsDispatch_FallsBackAtOnce()
    {
        // Its last heartbeat is from before the dispatch (it stopped just then): gone, not a lost envelope.
        var silent = new WorkerHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        Ports.WorkersOnline(silent);
        var request = SentTo(silent.WorkerId, "alpha");
        Ports.Clock.Set(12);

        await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Fallback));
        Assert.That(request.TimeoutReason, Is.EqualTo(RelayTimeoutReason.NoAck));
    }

    [Test]
    public async Task Overdue_WithoutAck_FromAHostWhoseGoodbyeWasReadAfterItsDispatch_FallsBackAtOnce()
    {
        // The host said it is stopping (a draining heartbeat), and the server read that after it had sent the question:
        // heard from since the dispatch, but leaving — it takes nothing new, so the question is not sent to it again.
        var leaving = new WorkerHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
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
        var host = new WorkerHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
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
        var silent = new WorkerHealth(Guid.NewGuid(), "scripted", true, 1, false, null, Moments.T0, Models: ["alpha"]);
        var beta = new WorkerHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["beta"]);
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
    public async Task ARequestWhoseHostsWentQuietOnEveryAttempt_GoesOnWhileAnotherHostServesTheModel_UpToTheCap()
    {
        var alive = new WorkerHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]);
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

    /// <summary>A request of <paramref name="model"/> sent to <paramref name="host"/> at T0+1 (ack by T0+11), stored as such.</summary>
    private RelayRequest SentTo(Guid host, string model)
    {
        var request = Ports.Remember(new RelayRequestBuilder().ForSession(Session.Id).ForUser(Alice.Id)
            .Asking(Question.Id).Build());
        request.Dispatch(Moments.At(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), host, model);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Dispatched);
        return request;
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

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.Zero);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(Ports.Journal, Is.Empty);
    }

    [Test]
    public async Task NotYetOverdue_IsLeftAlone()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Clock.Set(10);

        Assert.That(await Handler.Handle(new ExpireOverdueRequests(), CancellationToken.None), Is.Zero);
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
    }
}
