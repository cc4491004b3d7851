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

/// <summary>A host's error: one that is stopping or lost its engine hands the request back; any other ends it with a notice.</summary>
public class HostErrorTests : PacketTestBase
{
    [TestCase(RelayErrorCodes.Shutdown)]
    [TestCase(RelayErrorCodes.Draining)]
    [TestCase(RelayErrorCodes.EngineLost)]
    [TestCase(RelayErrorCodes.Restarted)]
    public async Task AHostThatStopsOrLosesItsEngine_HandsTheRequestBackToBeAskedAgain(string code)
    {
        var request = Request(RelayRequestStatus.Dispatched);

        await Receive(EnvelopeType.Error, request, 1, new ErrorBody(code, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(StoredAnswers, Is.Zero, "no notice: another host answers");
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("requeued"));
    }

    [Test]
    public async Task AnAnswerCutMidway_GoesBackWithWhatWasShown_AndItsNextAttemptIsAskedToGoOnFromIt()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("The sky is"));
        await Receive(EnvelopeType.Partial, request, 2, new PartialBody(" blue because"));

        await Receive(EnvelopeType.Error, request, 3, new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.AnswerStart, Is.EqualTo("The sky is blue because"), "stored with the request");
        Ports.WorkersOnline(TestPorts.ReadyWorker());
        await Ports.Relay<IRequestHandler<DispatchPendingRequests, int>>().Handle(new DispatchPendingRequests(), CancellationToken.None);
        var sent = RelayJson.FromBody<RequestBody>(Ports.EnvelopesSentToWorkers.Single());
        Assert.That(sent.AnswerStart, Is.EqualTo("The sky is blue because"), "the next host is asked to go on from it");
    }

    [TestCase(RelayErrorCodes.EngineLost, false)]
    [TestCase(RelayErrorCodes.EngineLost, true)]
    [TestCase(RelayErrorCodes.Shutdown, true)]
    public async Task PiecesArrivingWithTheHandBack_AreShownBeforeIt_AndItsNextAttemptGoesOnFromThem(string code,
        bool firstPieceBefore)
    {
        // Under load a host's last pieces and its error reach the server together, in one packet batch of the lane.
        var request = Request(RelayRequestStatus.Dispatched);
        if (firstPieceBefore)
        {
            await Receive(EnvelopeType.Partial, request, 1, new PartialBody("The sky is"));
        }

        List<RelayPacket> together = firstPieceBefore ? [] : [Packet(EnvelopeType.Partial, request, 1, new PartialBody("The sky is"))];
        await Handler.Handle(new HandleHostPacket([
            .. together,
            Packet(EnvelopeType.Partial, request, 2, new PartialBody(" blue because")),
            Packet(EnvelopeType.Error, request, 3, new ErrorBody(code, "llama-server stopped")),
        ]), CancellationToken.None);

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.AnswerStart, Is.EqualTo("The sky is blue because"),
            "the next attempt goes on from every piece shown, those that came with the hand-back too");
        Assert.That(Ports.Published.Select(e => (e.Type, e.Seq, e.Status)), Is.EqualTo(new (string, int?, string?)[]
        {
            (ChatEventTypes.Delta, 1, null), (ChatEventTypes.Delta, 2, null), (ChatEventTypes.Status, null, "requeued"),
        }), "followers are shown the pieces, then told the answer goes on elsewhere");
        Assert.That(Ports.PublishedUnits[^1].Select(e => e.Seq ?? 0), Is.EqualTo(firstPieceBefore ? new[] { 2, 0 } : [1, 2, 0]),
            "the pieces that came with the hand-back are told with it, in one publish");
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task AHostsNewRun_HandingBackWhatItsKilledRunBegan_NumberedAsTheAttemptsLast_GoesOnFromWhatWasShown()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("Once upon"));
        await Receive(EnvelopeType.Partial, request, 2, new PartialBody(" a time"));

        // The host's new run reads the dispatch again and hands it back (WorkerTests), past every number a run used.
        await Receive(EnvelopeType.Error, request, RelayRequest.SeqPerAttempt - 1,
            new ErrorBody(RelayErrorCodes.Restarted, "restarted"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.AnswerStart, Is.EqualTo("Once upon a time"));
        Assert.That(StoredAnswers, Is.Zero);
    }

    [Test]
    public async Task AnAnswerThisProcessSawOnlyPartOf_GoesBackWithNoStart_TheNextAttemptWritesItFromTheBeginning()
    {
        // With two server bots each takes some of a host's envelopes: piece 2 went to the other one.
        var request = Request(RelayRequestStatus.Dispatched);
        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("The sky is"));
        await Receive(EnvelopeType.Partial, request, 3, new PartialBody(" because"));

        await Receive(EnvelopeType.Error, request, 4, new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.AnswerStart, Is.Null, "a start with a hole in it is no start to go on from");
    }

    [Test]
    public async Task AnAnswerThisProcessSawOnlyPartOf_GoesOnFromAllItsPieces_WhenTheOtherServerBotKeptTheRest()
    {
        // Piece 2 went to the other server bot, which kept it where this one reads it (Redis).
        var request = Request(RelayRequestStatus.Dispatched);
        Ports.AnswerPieces.Keep(request.Id.Value, [(2, " blue")]);
        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("The sky is"));
        await Receive(EnvelopeType.Partial, request, 3, new PartialBody(" because"));

        await Receive(EnvelopeType.Error, request, 4, new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.AnswerStart, Is.EqualTo("The sky is blue because"), "every piece, in order, from both bots");
        Assert.That((await Ports.AnswerPieces.ReadAsync(request.Id.Value, CancellationToken.None)).Select(p => p.Seq),
            Is.EquivalentTo(new[] { 1, 2, 3 }), "this bot keeps its own pieces for the other");
    }

    [Test]
    public async Task AnAttemptThatShowedNothing_KeepsTheStartTheOneBeforeItShowed()
    {
        var request = Request(RelayRequestStatus.Dispatched);
        await Receive(EnvelopeType.Partial, request, 1, new PartialBody("The sky is"));
        await Receive(EnvelopeType.Error, request, 2, new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));
        request.Dispatch(Ports.Clock.UtcNow, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), SendingHost);

        await Receive(EnvelopeType.Error, request, RelayRequest.SeqPerAttempt + 1,
            new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(request.AnswerStart, Is.EqualTo("The sky is"));
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
            new HostHealth(SendingHost, "scripted", true, 1, true, null, Moments.T0, Models: ["alpha"]),
            new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]));
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts, model: "alpha");

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.Shutdown, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(StoredAnswers, Is.Zero, "no notice while another host of its model is online");
    }

    [Test]
    public async Task AnEngineUnavailable_WhileAnotherHostServesTheModel_HandsItToThatHost_NoNotice()
    {
        // Its upstream failing (its circuit breaker open): the other host of the model answers — on the first attempt
        // as on the last.
        Ports.WorkersOnline(
            new HostHealth(SendingHost, "OpenAiCompatible", true, 1, false, null, Moments.T0, Models: ["alpha"]),
            new HostHealth(Guid.NewGuid(), "OpenAiCompatible", true, 0, false, null, Moments.T0, Models: ["alpha"]));
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts, model: "alpha");

        await Receive(EnvelopeType.Error, request, LastSeqOf(request),
            new ErrorBody(RelayErrorCodes.EngineUnavailable, "The upstream is failing (circuit breaker open)."));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Pending));
        Assert.That(StoredAnswers, Is.Zero, "no notice while another host of its model is online");
        Assert.That(Ports.Published.Select(e => e.Status), Does.Contain("requeued"));
    }

    [Test]
    public async Task AnEngineUnavailable_WithNoOtherHostOfTheModel_EndsWithItsReason()
    {
        Ports.WorkersOnline(new HostHealth(SendingHost, "OpenAiCompatible", true, 1, false, null, Moments.T0, Models: ["alpha"]));
        var request = DispatchedFor(attempts: 1, model: "alpha");

        await Receive(EnvelopeType.Error, request, LastSeqOf(request),
            new ErrorBody(RelayErrorCodes.EngineUnavailable, "The upstream is failing (circuit breaker open)."));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed), "sent back to the same failing host it would only fail again");
        Assert.That(Ports.StoredMessages.Single(m => m.Role == MessageRole.Assistant).Content, Does.Contain("circuit breaker open"));
    }

    [Test]
    public async Task AHostStoppingPastTheCap_EndsWithANotice_EvenWithAnotherHostOnline()
    {
        Ports.WorkersOnline(new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, Moments.T0, Models: ["alpha"]));
        var request = DispatchedFor(attempts: Ports.RelayOptions.MaxAttempts + Ports.RelayOptions.HostFailureRetries, model: "alpha");

        await Receive(EnvelopeType.Error, request, LastSeqOf(request), new ErrorBody(RelayErrorCodes.Shutdown, "stopping"));

        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Failed), "a question every host fails on still ends");
        Assert.That(StoredAnswers, Is.EqualTo(1));
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
}
