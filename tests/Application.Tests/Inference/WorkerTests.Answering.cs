using MeatLizard.Domain.Relay;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Inference.Commands;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Inference;

/// <summary>The client bot answering a request: acks, pieces, the final, engine failures and cancels.</summary>
public partial class WorkerTests
{
    [Test]
    public async Task FirstDelta_IsFlushedAtOnceAndAcknowledges_FinalCarriesTheWholeAnswerAndTokens()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("Hel", 1);
            await release.Task.WaitAsync(ct);
            yield return new InferenceDelta("lo", 1);
            yield return new InferenceDelta(" world", 1);
            yield return new InferenceCompleted(17, 3, "length", new InferenceTimings(4.5, 30.25, 11));
        }

        var engine = new ScriptedEngine(Script);
        await Handler(engine).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);

        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "the first partial was sent");
        Assert.That(Sent.Select(e => (e.Type, e.Seq)), Is.EqualTo(new[] { (EnvelopeType.Partial, 1) }),
            "the first piece goes out while the engine is still generating, and stands for the ack");
        Assert.That(RelayJson.FromBody<PartialBody>(Sent[0]).Text, Is.EqualTo("Hel"));

        release.SetResult();
        await JobsFinished();

        var sent = Sent;
        Assert.That(sent.Last().Type, Is.EqualTo(EnvelopeType.Final));
        var final = RelayJson.FromBody<FinalBody>(sent.Last());
        Assert.That(final.Content, Is.EqualTo("Hello world"));
        Assert.That(final.PromptTokens, Is.EqualTo(17));
        Assert.That(final.CompletionTokens, Is.EqualTo(3));
        Assert.That(final.FinishReason, Is.EqualTo("length"));
        Assert.That((final.PromptMs, final.GenerationMs, final.CachedPromptTokens), Is.EqualTo((4.5, 30.25, 11)),
            "the engine's own timings travel with the final");
        Assert.That(final.TokensPerSecond, Is.EqualTo(3 * 1000 / 30.25).Within(1e-9));
        Assert.That(sent.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Partial, EnvelopeType.Final }),
            "text still waiting when the engine finished goes with the final, not in a partial of its own");
        Assert.That(sent.Select(e => e.Seq), Is.Ordered.Ascending.And.Unique);
        Assert.That(sent, Has.All.Matches<RelayEnvelope>(e => e.RequestId == _requestId && e.SessionId == _chatId));
        Assert.That(_sent, Has.All.Matches<RelayPacket>(p => p.ChatId == _chatId));
        _cipher.Verify(c => c.Seal(It.IsAny<RelayEnvelope>(), RelayDirection.ServerToClient), Times.Never);
    }

    [Test]
    public async Task ARequestToGoOnFromAStart_ReachesTheEngineWithIt_AndTheFinalHoldsTheStartAndTheRest()
    {
        InferenceRequest? asked = null;
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest request, [EnumeratorCancellation] CancellationToken ct)
        {
            asked = request;
            await Task.Yield();
            yield return new InferenceDelta(request.AnswerStart!, 0);
            yield return new InferenceDelta(" goes on", 1);
            yield return new InferenceCompleted(17, 1, "stop");
        }

        var body = new RequestBody("m", null, [new TurnBody("user", "Why?")], null, null, 64, AnswerStart: "It is blue and it");
        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(
            Packet(EnvelopeType.Request, body, seq: 2)), CancellationToken.None);
        await JobsFinished();

        Assert.That(asked!.AnswerStart, Is.EqualTo("It is blue and it"));
        var final = RelayJson.FromBody<FinalBody>(Sent.Last());
        Assert.That(final.Content, Is.EqualTo("It is blue and it goes on"));
        Assert.That(final.CompletionTokens, Is.EqualTo(1));
    }

    [Test]
    public async Task SlowEngine_IsAckedAfterTheAckDelay_BeforeItsFirstOutput()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            await release.Task.WaitAsync(ct); // e.g. the model is still loading
            yield return new InferenceDelta("Late", 1);
            yield return new InferenceCompleted(1, 1, "stop");
        }

        await Handler(new ScriptedEngine(Script), ackDelay: TimeSpan.FromMilliseconds(20))
            .Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Ack), "the ack was sent");
        Assert.That(Sent.Select(e => (e.Type, e.Seq)), Is.EqualTo(new[] { (EnvelopeType.Ack, 0) }));
        Assert.That(RelayJson.FromBody<AckBody>(Sent[0]).WorkerId, Is.EqualTo(_jobs.WorkerId));

        release.SetResult();
        await JobsFinished();
        Assert.That(Sent.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Ack, EnvelopeType.Final }),
            "one ack only; the answer the engine then had ready at once goes as the final alone");
    }

    [Test]
    public async Task EngineWithTheWholeAnswerReadyAtOnce_SendsTheFinalAlone()
    {
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("The", 1);
            yield return new InferenceDelta(" answer", 1);
            await Task.CompletedTask;
            yield return new InferenceCompleted(5, 2, "stop");
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        Assert.That(Sent.Select(e => (e.Type, e.Seq)), Is.EqualTo(new[] { (EnvelopeType.Final, 1) }),
            "no partial for text the final carries a moment later: the final acknowledges by itself");
        Assert.That(RelayJson.FromBody<FinalBody>(Sent[0]).Content, Is.EqualTo("The answer"));
    }

    [Test]
    public async Task TheFinal_NamesTheModelThatAnswered()
    {
        _inference.Engine = "Scripted";
        _inference.ModelName = "lizard-7b";

        await Handler(new ScriptedEngine(Whole)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        Assert.That(RelayJson.FromBody<FinalBody>(Sent.Single(e => e.Type == EnvelopeType.Final)).Model, Is.EqualTo("lizard-7b"),
            "asked for 'm', which this host does not serve by name: its own model answered");
    }

    [Test]
    public async Task TheFinal_NamesTheModelThatAnswered_FromTheModelsTheEngineServes()
    {
        // An OpenAI-compatible server (or several llama-servers) lists its own models; no Inference:ModelName is set.
        _inference.Engine = "OpenAiCompatible";
        var engine = new ScriptedEngine(Whole) { Health = new EngineHealth(true, null, Models: ["alpha", "beta"]) };
        await new SendHostHeartbeatHandler(new HostEngine([engine]), _jobs,
            new HostRelay(_cipher.Object, Transport().Object, _clock), Microsoft.Extensions.Options.Options.Create(_inference),
            Microsoft.Extensions.Options.Options.Create(new ModelHostOptions())).Handle(new SendHostHeartbeat(), CancellationToken.None);
        _sent.Clear();

        await Handler(engine).Handle(new HandleServerPacket(Packet(EnvelopeType.Request,
            new RequestBody("beta", null, [new TurnBody("user", "Hi")], null, null, 8), requestId: Guid.NewGuid())), CancellationToken.None);
        await Handler(engine).Handle(new HandleServerPacket(RequestPacket(Guid.NewGuid())), CancellationToken.None);
        await JobsFinished();

        Assert.That(Sent.Where(e => e.Type == EnvelopeType.Final).Select(e => RelayJson.FromBody<FinalBody>(e).Model),
            Is.EquivalentTo(new[] { "beta", "alpha" }), "'beta' as asked; 'm', which it does not serve, by its first model");
    }

    [Test]
    public async Task ASecondAttempt_NumbersItsEnvelopesAfterTheFirstsAll()
    {
        var second = new RelayPacket(_chatId, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Request, _chatId,
            _requestId, 2, _clock.UtcNow, RelayJson.ToBody(new RequestBody("m", null, [new TurnBody("user", "Hi")], null,
                null, 8))), RelayDirection.ServerToClient));

        await Handler(new ScriptedEngine(Whole)).Handle(new HandleServerPacket(second), CancellationToken.None);
        await JobsFinished();

        Assert.That(Sent.Select(e => e.Seq), Has.All.GreaterThan(RelayRequest.SeqPerAttempt));
        Assert.That(Sent.Select(e => RelayRequest.AttemptOf(e.Seq)), Has.All.EqualTo(2));
    }

    private static async IAsyncEnumerable<InferenceUpdate> Whole(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new InferenceDelta("An answer", 2);
        await Task.CompletedTask;
        yield return new InferenceCompleted(5, 2, "stop");
    }

    [Test]
    public async Task FirstPiece_TakesWhatTheEngineHasReady_AndGoesAsSoonAsTheEngineWaits()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("Hel", 1);
            yield return new InferenceDelta("lo", 1);
            await release.Task.WaitAsync(ct);
            yield return new InferenceDelta(" world", 1);
            yield return new InferenceCompleted(3, 3, "stop");
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "the first partial was sent");
        Assert.That(Sent.Select(e => (e.Type, e.Seq)), Is.EqualTo(new[] { (EnvelopeType.Partial, 1) }),
            "sent while the engine waits, well before the partial interval");
        Assert.That(RelayJson.FromBody<PartialBody>(Sent[0]).Text, Is.EqualTo("Hello"));

        release.SetResult();
        await JobsFinished();
        Assert.That(Sent.Select(e => (e.Type, e.Seq)),
            Is.EqualTo(new[] { (EnvelopeType.Partial, 1), (EnvelopeType.Final, 2) }));
        Assert.That(RelayJson.FromBody<FinalBody>(Sent[1]).Content, Is.EqualTo("Hello world"));
    }

    [Test]
    public async Task Request_IsTranslatedForTheEngine()
    {
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Yield();
            yield return new InferenceCompleted(1, 0, "stop");
        }

        var engine = new ScriptedEngine(Script);
        await Handler(engine).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        var request = engine.Requests.Single();
        Assert.That(request.RequestId, Is.EqualTo(_requestId));
        Assert.That(request.ChatId, Is.EqualTo(_chatId));
        Assert.That(request.Model, Is.EqualTo("m"));
        Assert.That(request.SystemPrompt, Is.EqualTo("Be brief."));
        Assert.That(request.Turns.Select(t => (t.Role, t.Content)), Is.EqualTo(new[]
        {
            (Domain.Messages.MessageRole.User, "Hi"), (Domain.Messages.MessageRole.Assistant, "Hello"),
            (Domain.Messages.MessageRole.User, "Why?"),
        }));
        Assert.That(request.Temperature, Is.EqualTo(0.5));
        Assert.That(request.MaxTokens, Is.EqualTo(64));
        Assert.That(RelayJson.FromBody<FinalBody>(Sent.Last()).Content, Is.Empty);
    }

    [Test]
    public async Task EngineLostMidAnswer_ItsNextRunGoesOnFromWhatWasWritten_TheAnswerStreamsOnUnderTheSameNumbers()
    {
        // The host knows everything it sent: it asks the engine's next run to go on from it, and nothing is handed back
        // (a server bot taking it back might hold only some of its pieces).
        var asked = new ConcurrentQueue<InferenceRequest>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest request, [EnumeratorCancellation] CancellationToken ct)
        {
            asked.Enqueue(request);
            if (asked.Count == 1)
            {
                yield return new InferenceDelta("It is", 1);
                await release.Task.WaitAsync(ct);
                yield return new InferenceDelta(" blue", 1);
                throw new InferenceFailedException("llama-server stopped while answering") { EngineLost = true };
            }

            await Task.Yield();
            yield return new InferenceDelta(request.AnswerStart!, 0);
            yield return new InferenceDelta(" because", 1);
            yield return new InferenceCompleted(17, 1, "stop");
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "the first piece was sent");
        release.SetResult();
        await JobsFinished();

        Assert.That(asked.Select(r => r.AnswerStart), Is.EqualTo(new[] { null, "It is blue" }),
            "the next run is asked to go on from all that was written");
        var sent = Sent;
        Assert.That(sent.Select(e => e.Type), Has.None.EqualTo(EnvelopeType.Error), "nothing is handed back");
        Assert.That(sent.Select(e => e.Seq), Is.Ordered.Ascending.And.Unique);
        Assert.That(string.Concat(sent.Where(e => e.Type == EnvelopeType.Partial).Select(e => RelayJson.FromBody<PartialBody>(e).Text)),
            Is.EqualTo("It is blue because").Or.EqualTo("It is blue").Or.EqualTo("It is"),
            "the pieces follow on: what was written is not sent again");
        var final = RelayJson.FromBody<FinalBody>(sent.Last());
        Assert.That(final.Content, Is.EqualTo("It is blue because"));
        Assert.That(final.CompletionTokens, Is.EqualTo(3), "the tokens of both runs");
    }

    [Test]
    public async Task EngineLostMidAnswer_WhoseNextRunAnswersFromTheBeginning_IsHandedBack_SoTheServerAsksAgain()
    {
        // An engine that cannot go on from a start answers from the beginning: that cannot follow what was sent.
        var calls = 0;
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            Interlocked.Increment(ref calls);
            yield return new InferenceDelta("par", 1);
            await Task.Yield();
            throw new InferenceFailedException("llama-server stopped while answering") { EngineLost = true };
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        var error = RelayJson.FromBody<ErrorBody>(Sent.Single(e => e.Type == EnvelopeType.Error));
        Assert.That(error, Is.EqualTo(new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped while answering")));
        Assert.That(Sent.Select(e => e.Type), Has.None.EqualTo(EnvelopeType.Final));
        Assert.That(calls, Is.EqualTo(2), "its next run was asked to go on once");
    }

    [TestCase(0, false, TestName = "EngineLostBeforeItsFirstWord_IsHandedBack_AnotherHostMayAnswerSooner")]
    [TestCase(1, true, TestName = "EngineLostMidAnswerOfARequestWithTools_IsHandedBack_APrefilledAnswerCannotBecomeAToolCall")]
    [TestCase(1, false, 4, TestName = "AnEngineLostOverAndOver_IsHandedBack_AfterRelayEngineLostRetriesTimes")]
    public async Task EngineLost_IsHandedBack_WhenItsNextRunMayNotGoOn(int words, bool tools, int losses = 1)
    {
        var calls = 0;
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest request, [EnumeratorCancellation] CancellationToken ct)
        {
            var call = Interlocked.Increment(ref calls);
            if (request.AnswerStart is { } start)
            {
                yield return new InferenceDelta(start, 0);
            }

            for (var i = 0; i < words; i++)
            {
                yield return new InferenceDelta($"w{call} ", 1);
            }

            await Task.Yield();
            if (call <= losses)
            {
                throw new InferenceFailedException("llama-server stopped while answering") { EngineLost = true };
            }

            yield return new InferenceCompleted(1, 1, "stop");
        }

        var body = new RequestBody("m", null, [new TurnBody("user", "Why?")], null, null, 64,
            tools ? new GenerationExtras(Tools: """[{"type":"function","function":{"name":"f"}}]""") : null);
        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(Packet(EnvelopeType.Request, body)),
            CancellationToken.None);
        await JobsFinished();

        Assert.That(RelayJson.FromBody<ErrorBody>(Sent.Single(e => e.Type == EnvelopeType.Error)).Code,
            Is.EqualTo(RelayErrorCodes.EngineLost));
        Assert.That(calls, Is.EqualTo(losses == 1 ? 1 : 4), "asked again here only while it may go on");
    }

    [Test]
    public async Task EngineLostMidAnswer_WhoseNextRunNeverBecomesReady_IsHandedBack_NotFailed()
    {
        var calls = 0;
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                yield return new InferenceDelta("par", 1);
                await Task.Yield();
                throw new InferenceFailedException("llama-server stopped while answering") { EngineLost = true };
            }

            await Task.Yield();
            throw new InferenceFailedException("llama-server did not answer in time");
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        Assert.That(RelayJson.FromBody<ErrorBody>(Sent.Single(e => e.Type == EnvelopeType.Error)),
            Is.EqualTo(new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped while answering")),
            "the loss is handed back, so another host may answer it");
    }

    [TestCase(0, RelayErrorCodes.EngineUnavailable, TestName = "AnEngineUnavailableBeforeItsFirstWord_SaysSo_SoTheServerAsksAnotherHost")]
    [TestCase(1, "inference_failed", TestName = "AnEngineUnavailableAfterItsFirstWords_IsAFailure_NotAskedElsewhere")]
    public async Task AnEngineUnavailable_IsHandedToAnotherHost_OnlyBeforeItsFirstWord(int words, string code)
    {
        // Words were given: asked again elsewhere, the answer would start over under the user's eyes.
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            for (var i = 0; i < words; i++)
            {
                yield return new InferenceDelta("par", 1);
            }

            await Task.Yield();
            throw new InferenceFailedException("the upstream is failing") { Unavailable = true };
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        var error = RelayJson.FromBody<ErrorBody>(Sent.Single(e => e.Type == EnvelopeType.Error));
        Assert.That(error, Is.EqualTo(new ErrorBody(code, "the upstream is failing")));
    }

    [TestCase(RelayErrorCodes.EngineLost, TestName = "AnEngineLost_WithWordsNotYetSent_SendsThemBeforeItsHandBack")]
    [TestCase("inference_failed", TestName = "AFailedEngine_WithWordsNotYetSent_SendsThemBeforeItsError")]
    public async Task WordsWaitingForTheNextPiece_GoBeforeTheJobsError(string code)
    {
        // The first piece goes at once; the next words wait for Relay:PartialInterval (a second here) when the engine
        // fails. Sent first, a hand-back goes on from them and a notice keeps them; left behind, the next attempt wrote
        // them again, and an answer ended by a failure lost them.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("The sky", 1);
            await release.Task.WaitAsync(ct);
            yield return new InferenceDelta(" is", 1);
            yield return new InferenceDelta(" blue", 1);
            await Task.Yield();
            throw code == RelayErrorCodes.EngineLost
                ? new InferenceFailedException("llama-server stopped while answering") { EngineLost = true }
                : new InferenceFailedException("the model file is missing");
        }

        // With tools the host does not go on after a lost engine itself (a prefilled answer cannot become a tool call).
        var body = new RequestBody("m", null, [new TurnBody("user", "Why?")], null, null, 64,
            new GenerationExtras(Tools: """[{"type":"function","function":{"name":"f"}}]"""));
        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(Packet(EnvelopeType.Request, body)),
            CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "the first piece was sent");
        release.SetResult();
        await JobsFinished();

        var sent = Sent;
        Assert.That(sent.Select(e => e.Type),
            Is.EqualTo(new[] { EnvelopeType.Partial, EnvelopeType.Partial, EnvelopeType.Error }));
        Assert.That(string.Concat(sent.Where(e => e.Type == EnvelopeType.Partial)
            .Select(e => RelayJson.FromBody<PartialBody>(e).Text)), Is.EqualTo("The sky is blue"));
        Assert.That(RelayJson.FromBody<ErrorBody>(sent[^1]).Code, Is.EqualTo(code));
        Assert.That(sent.Select(e => e.Seq), Is.Ordered.Ascending.And.Unique,
            "the error is numbered after the last piece");
    }

    [Test]
    public async Task EngineFailure_SendsAnErrorEnvelopeWithItsMessage_AndNoFinal()
    {
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("par", 1);
            await Task.Yield();
            throw new InferenceFailedException("the model file is missing");
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        var sent = Sent;
        Assert.That(sent.Select(e => e.Type), Has.None.EqualTo(EnvelopeType.Final));
        var error = RelayJson.FromBody<ErrorBody>(sent.Single(e => e.Type == EnvelopeType.Error));
        Assert.That(error, Is.EqualTo(new ErrorBody("inference_failed", "the model file is missing")));
        Assert.That(_jobs.LastError, Is.EqualTo("the model file is missing"));
    }

    [Test]
    public async Task UnexpectedEngineException_IsReportedWithoutItsDetails()
    {
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Yield();
            throw new InvalidOperationException("stack trace with /secret/path");
#pragma warning disable CS0162 // an iterator needs a yield
            yield break;
#pragma warning restore CS0162
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        var error = RelayJson.FromBody<ErrorBody>(Sent.Single(e => e.Type == EnvelopeType.Error));
        Assert.That(error.Message, Does.Not.Contain("/secret/path"));
    }

    [Test]
    public async Task Cancel_StopsTheJob_AndNoFinalIsSent()
    {
        var engineStopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("Once", 1);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                // Seen here rather than by a registration on ct: cancelling may finish this iterator (and dispose
                // such a registration) before the token gets round to calling it.
                engineStopped.TrySetResult();
                throw;
            }

            yield return new InferenceCompleted(1, 1, "stop");
        }

        var handler = Handler(new ScriptedEngine(Script));
        await handler.Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "generation started");

        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Cancel, new CancelBody("cancelled by the user"))),
            CancellationToken.None);
        await JobsFinished();

        Assert.That(engineStopped.Task.IsCompleted, Is.True, "the engine saw the cancellation");
        Assert.That(Sent.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Partial }),
            "the first piece came at once and acknowledged the request; nothing follows a cancel");
    }
}
