using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Inference.Commands;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Tests.Support;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Inference;

/// <summary>
/// A job that stops while the engine is producing its next piece closes the engine's stream all the same: the engine's
/// clean-up (llama-server's slot and HTTP stream) runs. Before, the stream was disposed with the read still pending,
/// which an async iterator refuses (NotSupportedException) without running its clean-up; the read then yielded and the
/// iterator held its slot for good — after as many such jobs as the host had slots it took questions and answered none
/// (the soak's stuck stretch, issue 36).
/// </summary>
public sealed class EngineStreamClosingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // One fixture instance runs every test: each starts with its own.
    private Guid _chatId;
    private Guid _requestId;
    private ConcurrentQueue<RelayEnvelope> _sent = null!;
    private HostJobs _jobs = null!;
    private FakeClock _clock = null!;
    private Mock<IEnvelopeCipher> _cipher = null!;
    private TaskCompletionSource _closed = null!;

    [SetUp]
    public void SetUp()
    {
        _chatId = Guid.NewGuid();
        _requestId = Guid.NewGuid();
        _sent = new ConcurrentQueue<RelayEnvelope>();
        _jobs = new HostJobs();
        _clock = new FakeClock();
        _cipher = JsonCipher.CreateMock();
        _closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Test]
    public async Task ASendThatFailsWhileTheEngineWorks_StillClosesTheEnginesStream()
    {
        var failed = 0;
        var handler = Handler(new ScriptedEngine(PieceAfterPieceThenWait), packet =>
        {
            // Discord refused the first piece: the job ends while the engine is already working on the second.
            if (JsonCipher.Read(packet.Wire).Envelope.Type == EnvelopeType.Partial && Interlocked.Increment(ref failed) == 1)
            {
                throw new IOException("the relay refused the envelope");
            }
        });

        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Request, Question())), CancellationToken.None);

        Assert.That(await Finished(_closed.Task), Is.True, "the engine's stream was closed: its clean-up ran");
        await WaitUntil(() => _jobs.Count == 0, "the job ended");
        Assert.That(_sent.Select(e => e.Type), Does.Contain(EnvelopeType.Error), "the server is told the job failed");
    }

    [Test]
    public async Task ACancelWhileTheEngineWorks_StillClosesTheEnginesStream()
    {
        var handler = Handler(new ScriptedEngine(PieceAfterPieceThenWait), _ => { });
        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Request, Question())), CancellationToken.None);
        await WaitUntil(() => _sent.Any(e => e.Type == EnvelopeType.Partial), "the first piece went out");

        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Cancel, new CancelBody("cancelled by the user"))),
            CancellationToken.None);

        Assert.That(await Finished(_closed.Task), Is.True, "the engine's stream was closed: its clean-up ran");
        await WaitUntil(() => _jobs.Count == 0, "the job ended");
    }

    [Test]
    public async Task AnEngineThatNeverStopsItsRead_IsLeft_AndTheJobStillEnds()
    {
        var never = new TaskCompletionSource();
        async IAsyncEnumerable<InferenceUpdate> Stuck(InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
        {
            yield return new InferenceDelta("one", 1);
            await never.Task; // deaf to its token
            yield return new InferenceDelta(" more", 1);
        }

        var handler = Handler(new ScriptedEngine(Stuck), packet =>
        {
            if (JsonCipher.Read(packet.Wire).Envelope.Type == EnvelopeType.Partial)
            {
                throw new IOException("the relay refused the envelope");
            }
        });
        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Request, Question())), CancellationToken.None);

        // Waited for 10 s (the runner's CloseWait), then left: the job ends and the server is told.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_jobs.Count > 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the job ended although its engine never stopped");
            await Task.Delay(50);
        }

        Assert.That(_sent.Select(e => e.Type), Does.Contain(EnvelopeType.Error));
        never.SetResult();
    }

    /// <summary>
    /// Pieces, each read taking a while and ending with its piece whatever the token says (a read already under way
    /// returns what it read), then a wait only a cancel ends; the finally is the engine's clean-up.
    /// </summary>
    private async IAsyncEnumerable<InferenceUpdate> PieceAfterPieceThenWait(InferenceRequest _,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            yield return new InferenceDelta("one", 1);
            for (var i = 0; i < 20; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(150), CancellationToken.None);
                yield return new InferenceDelta(" more", 1);
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
            yield return new InferenceCompleted(1, 21, "stop");
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    private HandleServerPacketHandler Handler(IInferenceEngine engine, Action<RelayPacket> onSend)
    {
        var transport = new Mock<IHostRelayTransport>();
        transport.Setup(t => t.SendAsync(It.IsAny<RelayPacket>(), It.IsAny<CancellationToken>()))
            .Returns((RelayPacket packet, CancellationToken _) =>
            {
                onSend(packet);
                _sent.Enqueue(JsonCipher.Read(packet.Wire).Envelope);
                return ValueTask.CompletedTask;
            });
        var relay = new HostRelay(_cipher.Object, transport.Object, _clock);
        // Pieces go out every 100 ms, so a flush often falls while the engine is reading its next one.
        var options = Options.Create(new RelayOptions
        {
            PartialInterval = TimeSpan.FromMilliseconds(100), AckDelay = TimeSpan.FromSeconds(5),
        });
        var envelopes = new JobEnvelopes(relay, _jobs, Options.Create(new InferenceOptions()), NullLogger<JobEnvelopes>.Instance);
        var runner = new InferenceJobRunner(new HostEngine([engine]), _jobs, envelopes, _clock, options,
            NullLogger<InferenceJobRunner>.Instance);
        var embeddings = new EmbeddingJobRunner(new HostEngine([engine]), _jobs, relay,
            NullLogger<EmbeddingJobRunner>.Instance);
        return new HandleServerPacketHandler(_cipher.Object, runner, embeddings, _jobs, _clock, options,
            NullLogger<HandleServerPacketHandler>.Instance);
    }

    private static RequestBody Question() => new("m", null, [new TurnBody("user", "Hi")], null, null, 64);

    private RelayPacket Packet<TBody>(EnvelopeType type, TBody body) =>
        new(_chatId, JsonCipher.Seal(new RelayEnvelope(type, _chatId, _requestId, 1, _clock.UtcNow,
            RelayJson.ToBody(body)), RelayDirection.ServerToClient));

    private static async Task<bool> Finished(Task task) => await Task.WhenAny(task, Task.Delay(Patience)) == task;

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }
}
