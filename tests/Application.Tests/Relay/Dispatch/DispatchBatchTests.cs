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

/// <summary>A batch is stored in one statement, then sent; what could not be sent, or changed meanwhile, is not lost.</summary>
public class DispatchBatchTests : DispatchTestBase
{
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
    public async Task Dispatch_WithALiveWorker_MarksTheRequestDispatched_AndSendsOneEncryptedRequest()
    {
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        Ports.History(Chat.Id, new ChatTurn(MessageRole.User, "Why is the sky blue?"));
        var request = Request(RelayRequestStatus.Pending);
        Ports.Clock.Set(2);

        await Handler.Handle(new DispatchPendingRequests(), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Assert.That(request.AckDeadline, Is.EqualTo(Moments.At(12)));
        Assert.That(request.CompletionDeadline, Is.EqualTo(Moments.At(62)));
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "update request:Dispatched", "send:Request" }),
            "stored before sent, so the worker's ack always finds it dispatched");
        var packet = Ports.SentToWorkers.Single();
        Assert.That(packet.ChatId, Is.EqualTo(Chat.Id.Value));
        Ports.Cipher.Verify(c => c.Seal(It.IsAny<RelayEnvelope>(), RelayDirection.ServerToClient), Times.Once);
        var (envelope, direction) = JsonCipher.Read(packet.Wire);
        Assert.That(direction, Is.EqualTo(RelayDirection.ServerToClient));
        Assert.That(envelope.Type, Is.EqualTo(EnvelopeType.Request));
        Assert.That(envelope.SessionId, Is.EqualTo(Chat.Id.Value));
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
        Ports.History(Chat.Id, new ChatTurn(MessageRole.User, "Why is the sky blue?"));
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
            It.IsAny<DateTimeOffset>(), It.IsAny<DateTimeOffset>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        Ports.Requests.Verify(r => r.TryUpdateManyAsync(
            It.Is<IReadOnlyCollection<RelayRequest>>(b => b.Count == 4), RelayRequestStatus.Pending,
            It.IsAny<CancellationToken>()), Times.Once);
        Ports.Sessions.Verify(s => s.GetAsync(It.IsAny<ChatId>(), It.IsAny<CancellationToken>()), Times.Never);
        Ports.Reads.Verify(r => r.GetRecentTurnsAsync(It.IsAny<ChatId>(), It.IsAny<int>(),
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
                It.IsAny<DateTimeOffset>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((int max, int historyMessages, DateTimeOffset _, DateTimeOffset _, string _, CancellationToken _) =>
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
