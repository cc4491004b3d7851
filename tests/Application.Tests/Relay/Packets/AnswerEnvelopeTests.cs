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

/// <summary>The model's answer: stored once with the request's end, through outages, never over another process's ending.</summary>
public class AnswerEnvelopeTests : PacketTestBase
{
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
            RelayRequest.Restore(request.Id, request.ChatId, request.UserId, request.UserMessageId, request.Sampling,
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
        var packet = new RelayPacket(request.ChatId.Value, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Final,
            request.ChatId.Value, request.Id.Value, 3, Ports.Clock.UtcNow, RelayJson.ToBody(Final())),
            RelayDirection.ClientToServer)) { Delivery = delivery };

        await Handler.Handle(new HandleHostPacket(packet), CancellationToken.None);
        Assert.That((StoredAnswers, delivery.Count), Is.EqualTo((0, 0)), "nothing stored, not handled");

        await Handler.Handle(new HandleHostPacket(packet), CancellationToken.None);
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Source, Is.EqualTo(MessageSource.Model));
        Assert.That(delivery.Count, Is.EqualTo(1), "handled once stored");

        await Handler.Handle(new HandleHostPacket(packet), CancellationToken.None);
        Assert.That((StoredAnswers, delivery.Count), Is.EqualTo((1, 2)), "a third copy is refused as a replay, and handled");
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

        await Handler.Handle(new HandleHostPacket(new RelayPacket(request.ChatId.Value, JsonCipher.Seal(
            new RelayEnvelope(EnvelopeType.Final, request.ChatId.Value, request.Id.Value, 3, Ports.Clock.UtcNow,
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

        await Handler.Handle(new HandleHostPacket(new RelayPacket(otherSession, wire)), CancellationToken.None);

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
}
