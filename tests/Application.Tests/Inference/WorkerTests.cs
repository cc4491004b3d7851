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

/// <summary>An engine whose output the test writes.</summary>
public sealed class ScriptedEngine(Func<InferenceRequest, CancellationToken, IAsyncEnumerable<InferenceUpdate>> script)
    : IInferenceEngine
{
    public ConcurrentQueue<InferenceRequest> Requests { get; } = new();

    public string Name => "scripted";

    public EngineHealth Health { get; set; } = new(true, null);

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult(Health);

    public IAsyncEnumerable<InferenceUpdate> GenerateAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        return script(request, cancellationToken);
    }
}

public class WorkerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(10);

    private readonly Guid _sessionId = Guid.NewGuid();
    private readonly Guid _requestId = Guid.NewGuid();
    private ConcurrentQueue<RelayPacket> _sent = null!;
    private WorkerJobs _jobs = null!;
    private InferenceOptions _inference = new();
    private Mock<IEnvelopeCipher> _cipher = null!;
    private FakeClock _clock = null!;

    [SetUp]
    public void SetUp()
    {
        _sent = new ConcurrentQueue<RelayPacket>();
        _jobs = new WorkerJobs();
        _inference = new InferenceOptions();
        _cipher = JsonCipher.CreateMock();
        _clock = new FakeClock();
    }

    private Mock<IWorkerRelayTransport> Transport()
    {
        var transport = new Mock<IWorkerRelayTransport>();
        transport.Setup(t => t.SendAsync(It.IsAny<RelayPacket>(), It.IsAny<CancellationToken>()))
            .Callback((RelayPacket packet, CancellationToken _) => _sent.Enqueue(packet))
            .Returns(ValueTask.CompletedTask);
        return transport;
    }

    private HandleServerPacketHandler Handler(IInferenceEngine engine, TimeSpan? ackDelay = null)
    {
        var relay = new WorkerRelay(_cipher.Object, Transport().Object, _clock);
        var runner = new InferenceJobRunner(new WorkerEngine([engine]), _jobs, relay, _clock,
            Options.Create(new RelayOptions
            {
                PartialInterval = TimeSpan.FromSeconds(1), AckDelay = ackDelay ?? TimeSpan.FromSeconds(5),
            }),
            Options.Create(_inference), NullLogger<InferenceJobRunner>.Instance);
        return new HandleServerPacketHandler(_cipher.Object, runner, _jobs, relay, _clock,
            Options.Create(new RelayOptions { AckTimeout = AckTimeout }), NullLogger<HandleServerPacketHandler>.Instance);
    }

    private IReadOnlyList<RelayEnvelope> Sent => [.. _sent.Select(p => JsonCipher.Read(p.Wire).Envelope)];

    private RelayPacket Packet<TBody>(
        EnvelopeType type, TBody body, RelayDirection direction = RelayDirection.ServerToClient, Guid? requestId = null) =>
        new(_sessionId, JsonCipher.Seal(new RelayEnvelope(type, _sessionId, requestId ?? _requestId, 1, _clock.UtcNow,
            RelayJson.ToBody(body)), direction));

    private RelayPacket RequestPacket(Guid? requestId = null) => Packet(EnvelopeType.Request, new RequestBody("m",
        "Be brief.", [new TurnBody("user", "Hi"), new TurnBody("assistant", "Hello"), new TurnBody("user", "Why?")], 0.5,
        null, 64), requestId: requestId);

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(10);
        }
    }

    private Task JobsFinished() => WaitUntil(() => _jobs.Count == 0, "the job finished");

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
        Assert.That(sent, Has.All.Matches<RelayEnvelope>(e => e.RequestId == _requestId && e.SessionId == _sessionId));
        Assert.That(_sent, Has.All.Matches<RelayPacket>(p => p.SessionId == _sessionId));
        _cipher.Verify(c => c.Seal(It.IsAny<RelayEnvelope>(), RelayDirection.ServerToClient), Times.Never);
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
    public async Task RequestReadLate_AfterTheServerGaveItUp_IsNotRun_ButCountedAndHandled()
    {
        var engine = new ScriptedEngine(WholeAnswer);
        var late = RequestPacket() with { Delivery = new CountedDelivery { CaughtUp = true } };
        _clock.UtcNow += AckTimeout + TimeSpan.FromSeconds(1);

        await Handler(engine).Handle(new HandleServerPacket(late), CancellationToken.None);
        await JobsFinished();

        Assert.That(engine.Requests, Is.Empty, "not run");
        Assert.That(Sent, Is.Empty, "nothing sent: the server answered with its fallback already");
        Assert.That(_jobs.SkippedGivenUp, Is.EqualTo(1));
        Assert.That(((CountedDelivery)late.Delivery!).Count, Is.EqualTo(1), "handled: not read again");
    }

    [Test]
    public async Task RequestReadLate_WithinTheAckTimeout_OrAsItWasSent_IsRun()
    {
        var engine = new ScriptedEngine(WholeAnswer);
        var caughtUp = RequestPacket() with { Delivery = new CountedDelivery { CaughtUp = true } };
        var live = RequestPacket(Guid.NewGuid()) with { Delivery = new CountedDelivery() };
        _clock.UtcNow += AckTimeout - TimeSpan.FromSeconds(1);
        await Handler(engine).Handle(new HandleServerPacket(caughtUp), CancellationToken.None);
        // Read live, a request is run whatever the two machines' clocks say.
        _clock.UtcNow += AckTimeout;
        await Handler(engine).Handle(new HandleServerPacket(live), CancellationToken.None);
        await JobsFinished();

        Assert.That(engine.Requests, Has.Count.EqualTo(2));
        Assert.That(_jobs.SkippedGivenUp, Is.Zero);
        Assert.That(Sent.Count(e => e.Type == EnvelopeType.Final), Is.EqualTo(2));
    }

    private static async IAsyncEnumerable<InferenceUpdate> WholeAnswer(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new InferenceDelta("Done.", 1);
        await Task.CompletedTask;
        yield return new InferenceCompleted(5, 1, "stop");
    }

    private sealed class CountedDelivery : RelayDelivery
    {
        public int Count { get; private set; }

        public override void Handled() => Count++;
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
        await new SendWorkerHeartbeatHandler(new WorkerEngine([engine]), _jobs,
            new WorkerRelay(_cipher.Object, Transport().Object, _clock), Microsoft.Extensions.Options.Options.Create(_inference),
            Microsoft.Extensions.Options.Options.Create(new WorkerOptions())).Handle(new SendWorkerHeartbeat(), CancellationToken.None);
        _sent.Clear();

        await Handler(engine).Handle(new HandleServerPacket(Packet(EnvelopeType.Request,
            new RequestBody("beta", null, [new TurnBody("user", "Hi")], null, null, 8), requestId: Guid.NewGuid())), CancellationToken.None);
        await Handler(engine).Handle(new HandleServerPacket(RequestPacket(Guid.NewGuid())), CancellationToken.None);
        await JobsFinished();

        Assert.That(Sent.Where(e => e.Type == EnvelopeType.Final).Select(e => RelayJson.FromBody<FinalBody>(e).Model),
            Is.EquivalentTo(new[] { "beta", "alpha" }), "'beta' as asked; 'm', which it does not serve, by its first model");
    }

    [Test]
    public async Task ARequestAddressedToAnotherHost_IsLeftAlone_ARequestForThisOneIsRun()
    {
        var engine = new ScriptedEngine(Whole);
        var other = Packet(EnvelopeType.Request, new RequestBody("m", null, [new TurnBody("user", "Hi")], null, null, 8,
            WorkerId: Guid.NewGuid()), requestId: Guid.NewGuid());
        var mine = Packet(EnvelopeType.Request, new RequestBody("m", null, [new TurnBody("user", "Hi")], null, null, 8,
            WorkerId: _jobs.WorkerId));

        await Handler(engine).Handle(new HandleServerPacket(other), CancellationToken.None);
        await Handler(engine).Handle(new HandleServerPacket(mine), CancellationToken.None);
        await JobsFinished();

        Assert.That(Sent.Select(e => e.RequestId).Distinct(), Is.EqualTo(new[] { _requestId }), "only this host's request answered");
        Assert.That(_jobs.ForAnotherHost, Is.EqualTo(1));
    }

    [Test]
    public async Task ASecondAttempt_NumbersItsEnvelopesAfterTheFirstsAll()
    {
        var second = new RelayPacket(_sessionId, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Request, _sessionId,
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
        Assert.That(request.SessionId, Is.EqualTo(_sessionId));
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
    public async Task EngineLostMidAnswer_SaysSo_SoTheServerAsksAgain()
    {
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("par", 1);
            await Task.Yield();
            throw new InferenceFailedException("llama-server stopped while answering") { EngineLost = true };
        }

        await Handler(new ScriptedEngine(Script)).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await JobsFinished();

        var error = RelayJson.FromBody<ErrorBody>(Sent.Single(e => e.Type == EnvelopeType.Error));
        Assert.That(error, Is.EqualTo(new ErrorBody(RelayErrorCodes.EngineLost, "llama-server stopped while answering")));
        Assert.That(Sent.Select(e => e.Type), Has.None.EqualTo(EnvelopeType.Final));
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

    [Test]
    public async Task Draining_RefusesNewRequestsWithAnErrorEnvelope()
    {
        var engine = new ScriptedEngine((_, _) => throw new AssertionException("the engine must not run"));
        _jobs.StartDraining();

        await Handler(engine).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);

        var sent = Sent;
        Assert.That(sent.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Error }));
        Assert.That(RelayJson.FromBody<ErrorBody>(sent[0]).Code, Is.EqualTo("draining"));
        Assert.That(engine.Requests, Is.Empty);
        Assert.That(_jobs.Count, Is.Zero);
    }

    /// <summary>
    /// Opens what the handler is given only when the test releases it, and keeps one release per packet the handler
    /// started to open: a batch's packets must all be opened (their replay checks sent) before any is waited for.
    /// </summary>
    private List<TaskCompletionSource> HoldOpens(Func<int, Exception?>? failure = null)
    {
        var plain = JsonCipher.CreateMock().Object;
        var held = new List<TaskCompletionSource>();
        _cipher.Setup(c => c.OpenAsync(It.IsAny<string>(), It.IsAny<RelayDirection>(), It.IsAny<Guid?>(),
                It.IsAny<CancellationToken>()))
            .Returns((string wire, RelayDirection direction, Guid? session, CancellationToken ct) =>
            {
                var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var index = held.Count;
                held.Add(release);
                return new ValueTask<EnvelopeOpenResult>(release.Task.ContinueWith(_ => failure?.Invoke(index) is { } ex
                    ? throw ex
                    : plain.OpenAsync(wire, direction, session, ct).Result, TaskScheduler.Default));
            });
        return held;
    }

    [Test]
    public async Task ABatchOfPackets_IsOpenedTogether_ThenActedOnInArrivalOrder()
    {
        var engineStopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                engineStopped.TrySetResult();
                throw;
            }

            yield break;
        }

        var engine = new ScriptedEngine(Script);
        var held = HoldOpens();
        var handling = Handler(engine).Handle(new HandleServerPacket(
            [RequestPacket(), Packet(EnvelopeType.Cancel, new CancelBody("cancelled by the user"))]), CancellationToken.None);

        Assert.That(held, Has.Count.EqualTo(2), "both packets are being opened before either has been");
        Assert.That(handling.IsCompleted, Is.False);
        foreach (var release in held.AsEnumerable().Reverse())
        {
            release.SetResult(); // the cancel's check answers first: it is still applied after its request
        }

        await handling.WaitAsync(Patience);
        await JobsFinished();
        Assert.That(engine.Requests, Has.Count.EqualTo(1), "the request ran");
        Assert.That(engineStopped.Task.IsCompleted, Is.True, "and the cancel after it stopped it");
        Assert.That(Sent.Select(e => e.Type), Has.None.EqualTo(EnvelopeType.Final), "no answer follows a cancel");
    }

    [Test]
    public async Task APacketThatFailsToOpen_DoesNotStopTheOthersInItsBatch()
    {
        var engine = new ScriptedEngine(Script);
        var held = HoldOpens(index => index == 0 ? new InvalidOperationException("the replay memory broke") : null);
        var otherRequest = Guid.NewGuid();
        var handling = Handler(engine).Handle(new HandleServerPacket([RequestPacket(), RequestPacket(otherRequest)]),
            CancellationToken.None);
        held.ForEach(release => release.SetResult());

        await handling.WaitAsync(Patience);
        await JobsFinished();
        Assert.That(engine.Requests.Select(r => r.RequestId), Is.EqualTo(new[] { otherRequest }));

        static async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Yield();
            yield return new InferenceCompleted(1, 1, "stop");
        }
    }

    [Test]
    public async Task RejectedPacket_StartsNothingAndSendsNothing()
    {
        var engine = new ScriptedEngine((_, _) => throw new AssertionException("the engine must not run"));
        var handler = Handler(engine);

        await handler.Handle(new HandleServerPacket(new RelayPacket(_sessionId, JsonCipher.Garbage)), CancellationToken.None);
        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Request,
            new RequestBody(null, null, [new TurnBody("user", "x")], null, null, null), RelayDirection.ClientToServer)),
            CancellationToken.None);

        Assert.That(_sent, Is.Empty);
        Assert.That(engine.Requests, Is.Empty);
    }

    [Test]
    public async Task Stop_JobStillRunningAtTheDrainDeadline_IsStoppedAndReported_NewJobsAreRefusedMeanwhile()
    {
        var deadline = TimeSpan.FromMilliseconds(500);
        var engineStopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("Once", 1);
            try
            {
                await Task.Delay(Timeout.Infinite, ct); // a long answer that outlives the deadline
            }
            catch (OperationCanceledException)
            {
                engineStopped.TrySetResult();
                throw;
            }

            yield return new InferenceCompleted(1, 1, "stop");
        }

        var engine = new ScriptedEngine(Script);
        var handler = Handler(engine);
        await handler.Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "generation started");

        var loop = Loop(engine, deadline);
        var stopping = Stopwatch.StartNew();
        var stop = loop.StopAsync(CancellationToken.None);

        // While draining: a new request is refused at once, the running one goes on.
        var late = Guid.NewGuid();
        await handler.Handle(new HandleServerPacket(RequestPacket(late)), CancellationToken.None);
        var refusal = Sent.Single(e => e.RequestId == late);
        Assert.That(refusal.Type, Is.EqualTo(EnvelopeType.Error));
        Assert.That(RelayJson.FromBody<ErrorBody>(refusal).Code, Is.EqualTo("draining"));
        Assert.That(engine.Requests, Has.Count.EqualTo(1), "the refused request never reached the engine");

        await stop.WaitAsync(Patience);
        var stoppedAfter = stopping.Elapsed;

        Assert.That(engineStopped.Task.IsCompleted, Is.True, "the job still running at the deadline was cancelled");
        Assert.That(stoppedAfter, Is.GreaterThanOrEqualTo(deadline), "the running job had until the deadline");
        Assert.That(_jobs.Count, Is.Zero);
        var ours = Sent.Where(e => e.RequestId == _requestId).ToList();
        Assert.That(ours.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Partial, EnvelopeType.Error }),
            "the server hears at once that the answer will not come, and stores a notice for the user");
        Assert.That(RelayJson.FromBody<ErrorBody>(ours[1]),
            Is.EqualTo(new ErrorBody(InferenceJobRunner.ShutdownCode, InferenceJobRunner.ShutdownMessage)));
        Assert.That(ours[1].Seq, Is.GreaterThan(ours[0].Seq));
    }

    [Test]
    public async Task Stop_JobsThatFinishBeforeTheDeadline_AreNotCutShort()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async IAsyncEnumerable<InferenceUpdate> Script(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("Almost", 1);
            await release.Task.WaitAsync(ct);
            yield return new InferenceDelta(" done", 1);
            yield return new InferenceCompleted(2, 2, "stop");
        }

        var engine = new ScriptedEngine(Script);
        await Handler(engine).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "generation started");

        var stop = Loop(engine, Patience * 2).StopAsync(CancellationToken.None);
        await WaitUntil(() => _jobs.Draining, "draining started");
        release.SetResult();
        await stop.WaitAsync(Patience);

        Assert.That(Sent.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Partial, EnvelopeType.Final }));
        Assert.That(RelayJson.FromBody<FinalBody>(Sent.Last()).Content, Is.EqualTo("Almost done"));
    }

    private WorkerLoop Loop(IInferenceEngine engine, TimeSpan drainDeadline)
    {
        // The heartbeat the loop sends on stopping goes through the mediator; it is not what these tests look at.
        var services = new ServiceCollection().AddSingleton(new Mock<MediatR.IMediator>().Object).BuildServiceProvider();
        return new WorkerLoop(services.GetRequiredService<IServiceScopeFactory>(), new WorkerEngine([engine]),
            Transport().Object, _jobs, Options.Create(new RelayOptions()),
            Options.Create(new WorkerOptions { DrainDeadline = drainDeadline }), NullLogger<WorkerLoop>.Instance);
    }

    [TestCase(true, false, false)]
    [TestCase(false, true, true)]
    [TestCase(false, false, false)]
    public async Task Heartbeat_SaysWhetherTheEngineIsLoadingItsModel(bool ready, bool loading, bool reported)
    {
        var beat = await HeartbeatOfAsync(new EngineHealth(ready, ready ? null : "not yet", loading));

        Assert.That(beat.EngineReady, Is.EqualTo(ready));
        Assert.That(beat.EngineLoading, Is.EqualTo(reported));
        Assert.That(beat.LastError, Is.EqualTo(ready ? null : "not yet"));
    }

    [Test]
    public async Task Heartbeat_SaysTheEngineIsStartingAgain_AndLoadingForServersThatDoNotKnowThat()
    {
        var beat = await HeartbeatOfAsync(
            new EngineHealth(false, "llama-server stopped and is starting again") { Restarting = true });

        Assert.That((beat.EngineReady, beat.EngineRestarting, beat.EngineLoading), Is.EqualTo((false, true, true)));
    }

    /// <summary>The heartbeat a host whose engine says <paramref name="health"/> sends.</summary>
    private async Task<HeartbeatBody> HeartbeatOfAsync(EngineHealth health)
    {
        var engine = new ScriptedEngine((_, _) => throw new AssertionException("nothing runs")) { Health = health };
        var handler = new SendWorkerHeartbeatHandler(new WorkerEngine([engine]), _jobs,
            new WorkerRelay(_cipher.Object, Transport().Object, _clock),
            Microsoft.Extensions.Options.Options.Create(new InferenceOptions()),
            Microsoft.Extensions.Options.Options.Create(new WorkerOptions()));

        await handler.Handle(new SendWorkerHeartbeat(), CancellationToken.None);

        return RelayJson.FromBody<HeartbeatBody>(Sent.Single());
    }

    [Test]
    public async Task AnEngineWhoseHealthChanges_IsToldInAHeartbeatAtOnce_NotAtTheNextInterval()
    {
        var engine = new ChangingEngine();
        var beats = 0;
        var mediator = new Mock<MediatR.IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<SendWorkerHeartbeat>(), It.IsAny<CancellationToken>()))
            .Callback(() => Interlocked.Increment(ref beats)).ReturnsAsync(MediatR.Unit.Value);
        var services = new ServiceCollection().AddSingleton(mediator.Object).BuildServiceProvider();
        var transport = new Mock<IWorkerRelayTransport>();
        transport.Setup(t => t.ReceiveAllAsync(It.IsAny<CancellationToken>())).Returns(Nothing);
        var loop = new WorkerLoop(services.GetRequiredService<IServiceScopeFactory>(), new WorkerEngine([engine]),
            transport.Object, _jobs, Options.Create(new RelayOptions { HeartbeatInterval = TimeSpan.FromHours(1) }),
            Options.Create(new WorkerOptions()), NullLogger<WorkerLoop>.Instance);
        using var stop = new CancellationTokenSource();
        await loop.StartAsync(stop.Token);
        try
        {
            await WaitUntil(() => Volatile.Read(ref beats) == 1, "the first heartbeat was sent");

            engine.Change();

            await WaitUntil(() => Volatile.Read(ref beats) == 2, "a heartbeat went at once when the engine's health changed");
        }
        finally
        {
            await stop.CancelAsync();
            await loop.StopAsync(CancellationToken.None);
        }

        static async IAsyncEnumerable<RelayPacket> Nothing([EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            yield break;
        }
    }

    /// <summary>An engine that says when its health changes.</summary>
    private sealed class ChangingEngine : IInferenceEngine, IEngineHealthChanges
    {
        public event Action? HealthChanged;

        public string Name => "changing";

        public void Change() => HealthChanged?.Invoke();

        public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
            Task.FromResult(new EngineHealth(true, null));

        public IAsyncEnumerable<InferenceUpdate> GenerateAsync(InferenceRequest request, CancellationToken cancellationToken) =>
            throw new AssertionException("nothing runs");
    }

    [Test]
    public async Task Heartbeat_SaysEachModelsOwnSlotsAndContext_AndTheRequestsRunningForIt()
    {
        var release = new TaskCompletionSource();
        async IAsyncEnumerable<InferenceUpdate> Held(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            await release.Task.WaitAsync(ct);
            yield return new InferenceCompleted(1, 1, "stop");
        }

        var engine = new ScriptedEngine(Held)
        {
            Health = new EngineHealth(true, null, Slots: 3, Models: ["alpha", "beta"])
            {
                Capacities = [new ModelCapacity("alpha", 1, 2048), new ModelCapacity("beta", 2, 8192)],
            },
        };
        var heartbeat = new SendWorkerHeartbeatHandler(new WorkerEngine([engine]), _jobs,
            new WorkerRelay(_cipher.Object, Transport().Object, _clock), Microsoft.Extensions.Options.Options.Create(_inference),
            Microsoft.Extensions.Options.Options.Create(new WorkerOptions()));
        await heartbeat.Handle(new SendWorkerHeartbeat(), CancellationToken.None);
        await Handler(engine).Handle(new HandleServerPacket(Packet(EnvelopeType.Request,
            new RequestBody("beta", null, [new TurnBody("user", "Hi")], null, null, 8), requestId: Guid.NewGuid())), CancellationToken.None);
        _sent.Clear();

        await heartbeat.Handle(new SendWorkerHeartbeat(), CancellationToken.None);
        release.SetResult();
        await JobsFinished();

        Assert.That(RelayJson.FromBody<HeartbeatBody>(Sent.First(e => e.Type == EnvelopeType.Heartbeat)).ModelDetails, Is.EqualTo(new[]
        {
            new ModelCapacity("alpha", 1, 2048, 0), new ModelCapacity("beta", 2, 8192, 1),
        }));
    }

    [Test]
    public async Task Heartbeat_ListsTheModelsTheEngineServes_OrElseTheConfiguredOne()
    {
        async Task<IReadOnlyList<string>?> ModelsAsync(IReadOnlyList<string>? served)
        {
            _sent.Clear();
            var engine = new ScriptedEngine((_, _) => throw new AssertionException("nothing runs"))
            {
                Health = new EngineHealth(true, null, Models: served),
            };
            var handler = new SendWorkerHeartbeatHandler(new WorkerEngine([engine]), _jobs,
                new WorkerRelay(_cipher.Object, Transport().Object, _clock),
                Microsoft.Extensions.Options.Options.Create(new InferenceOptions { Engine = "LlamaServer", ModelPath = "/m/tiny-q4.gguf" }),
                Microsoft.Extensions.Options.Options.Create(new WorkerOptions()));
            await handler.Handle(new SendWorkerHeartbeat(), CancellationToken.None);
            return RelayJson.FromBody<HeartbeatBody>(Sent.Single()).Models;
        }

        Assert.That(await ModelsAsync(["fast", "big:70b"]), Is.EqualTo(new[] { "fast", "big:70b" }));
        Assert.That(await ModelsAsync(null), Is.EqualTo(new[] { "tiny-q4" }));
    }
}
