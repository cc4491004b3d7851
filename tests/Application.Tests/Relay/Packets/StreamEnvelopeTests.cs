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

/// <summary>Acks and pieces: applied in memory, stored once per batch, published in order; earlier attempts and rejected envelopes change nothing.</summary>
public class StreamEnvelopeTests : PacketTestBase
{
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

    [Test]
    public async Task RejectedEnvelope_ChangesNothing()
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Handler.Handle(new HandleHostPacket(new RelayPacket(Chat.Id.Value, JsonCipher.Garbage)),
            CancellationToken.None);
        await Receive(EnvelopeType.Final, request, 1, Final(), RelayDirection.ServerToClient); // reflected back

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Dispatched));
        Ports.Requests.Verify(r => r.GetAsync(It.IsAny<RelayRequestId>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.That(Ports.Journal, Is.Empty);
        Assert.That(Ports.Published, Is.Empty);
        Ports.Presence.VerifyNoOtherCalls();
    }

    [Test]
    public async Task QuickAnswer_EnvelopesArrivingTogether_AreStoredOnce_WithoutReadingTheRequest()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Streams.RememberStored(request); // as the dispatcher left it

        await Handler.Handle(new HandleHostPacket([
            Packet(EnvelopeType.Ack, request, 0, new AckBody(SendingHost)),
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

        await Handler.Handle(new HandleHostPacket([
            Packet(EnvelopeType.Ack, request, 0, new AckBody(SendingHost)),
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
        var stale = CopyAsRead(stored);
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

    private IEnumerable<RelayEnvelope> CancelsSent => Ports.EnvelopesSentToWorkers.Where(e => e.Type == EnvelopeType.Cancel);

    [Test]
    public async Task PiecesOfARequestCancelledElsewhere_TellItsHostToStop_OnceOnly()
    {
        // A cancel asked at another API instance, whose word never reached the host (Redis down): its pieces come here.
        var request = Request(RelayRequestStatus.Streaming);
        request.Cancel(Ports.Clock.UtcNow);
        Ports.ChangedElsewhere(request.Id, RelayRequestStatus.Cancelled);

        await Receive(EnvelopeType.Partial, request, 2, new PartialBody(" more"));
        await Receive(EnvelopeType.Partial, request, 3, new PartialBody(" and more"));

        Assert.That(CancelsSent.Select(e => e.RequestId), Is.EqualTo(new[] { request.Id.Value }),
            "one cancel, for the request its host still works on, however many pieces come");
        Assert.That(Ports.Published, Is.Empty, "the pieces of a cancelled request are not shown");
    }

    [Test]
    public async Task PiecesOfARequestThisProcessCancelled_SendNoSecondCancel()
    {
        var request = Request(RelayRequestStatus.Streaming);
        Assert.That(await Ports.Outcomes.CancelAsync(request, CancellationToken.None), Is.True);

        await Receive(EnvelopeType.Partial, request, 2, new PartialBody(" on its way before the cancel"));

        Assert.That(CancelsSent.Count(), Is.EqualTo(1), "the host was told when it was cancelled here");
    }

    [Test]
    public async Task PiecesOfALiveRequest_OrOfAnEarlierAttemptOfAnEndedOne_SendNoCancel()
    {
        var live = Request(RelayRequestStatus.Streaming);
        await Receive(EnvelopeType.Partial, live, 2, new PartialBody(" going on"));
        var ended = DispatchedFor(attempts: 2);
        ended.Cancel(Ports.Clock.UtcNow);
        Ports.ChangedElsewhere(ended.Id, RelayRequestStatus.Cancelled);
        await Receive(EnvelopeType.Partial, ended, 2, new PartialBody(" from the first attempt's host"));

        Assert.That(CancelsSent, Is.Empty,
            "the live request goes on; the host of an earlier attempt is not the one a cancel by request would reach");
    }

    [Test]
    public async Task KeptCopy_UnreadForASecond_IsReadAgain_SoACancelElsewhereStopsTheHost()
    {
        var stored = Request(RelayRequestStatus.Streaming);
        var kept = RelayRequest.Restore(stored.Id, stored.ChatId, stored.UserId, stored.UserMessageId,
            stored.Sampling, stored.Status, stored.Attempts, stored.LastSeq, stored.CreatedAt, stored.DispatchedAt,
            stored.AckedAt, stored.AckDeadline, stored.CompletionDeadline, null, null, null, null,
            workerId: stored.WorkerId, firstPieceAt: stored.FirstPieceAt);
        Ports.Streams.RememberStored(kept); // as this process stored it when the host's first piece came
        stored.Cancel(Ports.Clock.UtcNow); // another instance stopped it; this one's copy still says Streaming
        Ports.ChangedElsewhere(stored.Id, RelayRequestStatus.Cancelled);

        await Receive(EnvelopeType.Partial, stored, 2, new PartialBody("leigh"));
        Assert.That(CancelsSent, Is.Empty, "within a second of its last store the kept copy is used, unread");
        Ports.Clock.UtcNow += RelayStreamState.CheckedEvery + TimeSpan.FromMilliseconds(1);
        await Receive(EnvelopeType.Partial, stored, 3, new PartialBody(" scattering"));

        Assert.That(CancelsSent.Select(e => e.RequestId), Is.EqualTo(new[] { stored.Id.Value }));
        Ports.Requests.Verify(r => r.GetAsync(stored.Id, It.IsAny<CancellationToken>()), Times.Once,
            "read again once the kept copy went a second unread");
    }

    [Test]
    public async Task FirstPieces_WhoseWriteLostToAnotherServerBot_AreStillPublishedHere()
    {
        // Two server bots both read the host's envelopes: the other one stored the first piece (Dispatched → Streaming)
        // between this one's read and its write. Before, this one dropped the pieces (and marked them handled): the
        // reply it followed missed its first words, took the next ones for a gap after them and held the whole answer
        // back until the final (DiscordChatTests.WithTwoServerBots_TheOneAnsweringStops…, failing under load).
        var stored = Request(RelayRequestStatus.Dispatched);
        var read = CopyAsRead(stored);
        stored.Acknowledge(Ports.Clock.UtcNow, SendingHost);
        stored.ReceivePartial(1, Ports.Clock.UtcNow); // the other bot's write
        Ports.ChangedElsewhere(stored.Id, RelayRequestStatus.Streaming);
        Ports.Requests.SetupSequence(r => r.GetAsync(stored.Id, It.IsAny<CancellationToken>()))
            .ReturnsAsync(read).ReturnsAsync(stored);

        await Handler.Handle(new HandleHostPacket([
            Packet(EnvelopeType.Ack, stored, 0, new AckBody(SendingHost)),
            Packet(EnvelopeType.Partial, stored, 1, new PartialBody("Ray")),
        ]), CancellationToken.None);
        await Receive(EnvelopeType.Partial, stored, 2, new PartialBody("leigh"));

        Assert.That(Ports.Published.Select(e => (e.Seq, e.Text)), Is.EqualTo(new (int?, string?)[] { (1, "Ray"), (2, "leigh") }),
            "the words, from the first, for the followers of this process");
        Assert.That(Ports.Journal, Is.EqualTo(new[] { "skip request:Streaming" }),
            "the lost write changes nothing; what the other bot stored already holds the ack and the first piece");
        Assert.That(stored.Status, Is.EqualTo(RelayRequestStatus.Streaming));
    }

    [Test]
    public async Task KeptCopy_OfAnEarlierAttempt_WhenAnotherProcessSentTheRequestAgain_IsReadAgain_AndTheAnswerStored()
    {
        // Two server bots: this one followed the first attempt (its copy kept in memory); its host died, and the other
        // bot sent the request again to the host's new run. That run's envelopes are of the second attempt: the kept
        // copy is older than them, not they older than the request. Before, they were ignored as "an earlier attempt's"
        // and marked handled — the answer lost, and the request ended with a notice at its completion timeout (soak,
        // session 41: both notices of a client-bot kill minute).
        var stored = Request(RelayRequestStatus.Dispatched);
        var firstAttempt = CopyAsRead(stored);
        Ports.Streams.RememberStored(firstAttempt);
        stored.Requeue();
        stored.Dispatch(Moments.At(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), SendingHost);
        Ports.ChangedElsewhere(stored.Id, RelayRequestStatus.Dispatched);
        var second = RelayRequest.SeqPerAttempt;

        await Handler.Handle(new HandleHostPacket([
            Packet(EnvelopeType.Ack, stored, second, new AckBody(SendingHost)),
            Packet(EnvelopeType.Final, stored, second + 1, Final("the second attempt's answer")),
        ]), CancellationToken.None);

        Assert.That(stored.Status, Is.EqualTo(RelayRequestStatus.Completed));
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Content,
            Is.EqualTo("the second attempt's answer"));
        Ports.Requests.Verify(r => r.GetAsync(stored.Id, It.IsAny<CancellationToken>()), Times.Once,
            "the stored request read once the kept copy turned out older than the host's envelopes");
    }

    [Test]
    public async Task Ack_RecordsTheAcknowledgement_Once()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.Clock.Set(3);

        await Receive(EnvelopeType.Ack, request, 0, new AckBody(SendingHost));
        Ports.Clock.Set(4);
        await Receive(EnvelopeType.Ack, request, 0, new AckBody(SendingHost));

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
            new ChatEvent(ChatEventTypes.Delta, Chat.Id.Value, request.Id.Value, Seq: 1, Text: "Ray"),
            new ChatEvent(ChatEventTypes.Delta, Chat.Id.Value, request.Id.Value, Seq: 2, Text: "leigh"),
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

    /// <summary>A copy of <paramref name="stored"/> as a process read it now, which later changes to the store leave behind.</summary>
    private static RelayRequest CopyAsRead(RelayRequest stored) =>
        RelayRequest.Restore(stored.Id, stored.ChatId, stored.UserId, stored.UserMessageId,
            stored.Sampling, stored.Status, stored.Attempts, stored.LastSeq, stored.CreatedAt, stored.DispatchedAt,
            stored.AckedAt, stored.AckDeadline, stored.CompletionDeadline, null, null, null, null);
}
