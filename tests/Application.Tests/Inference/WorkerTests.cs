using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Inference.Commands;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
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

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new EngineHealth(true, null));

    public IAsyncEnumerable<InferenceUpdate> GenerateAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        return script(request, cancellationToken);
    }
}

public class WorkerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly Guid _sessionId = Guid.NewGuid();
    private readonly Guid _requestId = Guid.NewGuid();
    private ConcurrentQueue<RelayPacket> _sent = null!;
    private WorkerJobs _jobs = null!;
    private Mock<IEnvelopeCipher> _cipher = null!;
    private FakeClock _clock = null!;

    [SetUp]
    public void SetUp()
    {
        _sent = new ConcurrentQueue<RelayPacket>();
        _jobs = new WorkerJobs();
        _cipher = JsonCipher.CreateMock();
        _clock = new FakeClock();
    }

    private HandleServerPacketHandler Handler(IInferenceEngine engine, TimeSpan? ackDelay = null)
    {
        var transport = new Mock<IWorkerRelayTransport>();
        transport.Setup(t => t.SendAsync(It.IsAny<RelayPacket>(), It.IsAny<CancellationToken>()))
            .Callback((RelayPacket packet, CancellationToken _) => _sent.Enqueue(packet))
            .Returns(ValueTask.CompletedTask);
        var relay = new WorkerRelay(_cipher.Object, transport.Object, _clock);
        var runner = new InferenceJobRunner(new WorkerEngine([engine]), _jobs, relay, _clock,
            Options.Create(new RelayOptions
            {
                PartialInterval = TimeSpan.FromSeconds(1), AckDelay = ackDelay ?? TimeSpan.FromSeconds(5),
            }),
            NullLogger<InferenceJobRunner>.Instance);
        return new HandleServerPacketHandler(_cipher.Object, runner, _jobs, relay,
            NullLogger<HandleServerPacketHandler>.Instance);
    }

    private IReadOnlyList<RelayEnvelope> Sent => [.. _sent.Select(p => JsonCipher.Read(p.Wire).Envelope)];

    private RelayPacket Packet<TBody>(EnvelopeType type, TBody body, RelayDirection direction = RelayDirection.ServerToClient) =>
        new(_sessionId, JsonCipher.Seal(new RelayEnvelope(type, _sessionId, _requestId, 1, _clock.UtcNow,
            RelayJson.ToBody(body)), direction));

    private RelayPacket RequestPacket() => Packet(EnvelopeType.Request, new RequestBody("m", "Be brief.",
        [new TurnBody("user", "Hi"), new TurnBody("assistant", "Hello"), new TurnBody("user", "Why?")], 0.5, null, 64));

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
            yield return new InferenceCompleted(17, 3, "length");
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
        Assert.That(Sent.Select(e => e.Type), Is.EqualTo(new[] { EnvelopeType.Ack, EnvelopeType.Partial, EnvelopeType.Final }),
            "one ack only");
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
}
