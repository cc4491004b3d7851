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

/// <summary>
/// The client bot's worker, over a scripted engine and a mocked transport: the fixture and its helpers. The tests are in
/// WorkerTests.Answering.cs, WorkerTests.Packets.cs and WorkerTests.Lifecycle.cs.
/// </summary>
public partial class WorkerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(10);

    private readonly Guid _chatId = Guid.NewGuid();
    private readonly Guid _requestId = Guid.NewGuid();
    private ConcurrentQueue<RelayPacket> _sent = null!;
    private HostJobs _jobs = null!;
    private InferenceOptions _inference = new();
    private Mock<IEnvelopeCipher> _cipher = null!;
    private FakeClock _clock = null!;

    [SetUp]
    public void SetUp()
    {
        _sent = new ConcurrentQueue<RelayPacket>();
        _jobs = new HostJobs();
        _inference = new InferenceOptions();
        _cipher = JsonCipher.CreateMock();
        _clock = new FakeClock();
    }

    private Mock<IHostRelayTransport> Transport()
    {
        var transport = new Mock<IHostRelayTransport>();
        transport.Setup(t => t.SendAsync(It.IsAny<RelayPacket>(), It.IsAny<CancellationToken>()))
            .Callback((RelayPacket packet, CancellationToken _) => _sent.Enqueue(packet))
            .Returns(ValueTask.CompletedTask);
        return transport;
    }

    private HandleServerPacketHandler Handler(IInferenceEngine engine, TimeSpan? ackDelay = null)
    {
        var relay = new HostRelay(_cipher.Object, Transport().Object, _clock);
        var envelopes = new JobEnvelopes(relay, _jobs, Options.Create(_inference), NullLogger<JobEnvelopes>.Instance);
        var runner = new InferenceJobRunner(new HostEngine([engine]), _jobs, envelopes, _clock,
            Options.Create(new RelayOptions
            {
                PartialInterval = TimeSpan.FromSeconds(1), AckDelay = ackDelay ?? TimeSpan.FromSeconds(5),
            }),
            NullLogger<InferenceJobRunner>.Instance);
        var embeddings = new EmbeddingJobRunner(new HostEngine([engine]), _jobs, relay,
            NullLogger<EmbeddingJobRunner>.Instance);
        return new HandleServerPacketHandler(_cipher.Object, runner, embeddings, _jobs, _clock,
            Options.Create(new RelayOptions { AckTimeout = AckTimeout }), NullLogger<HandleServerPacketHandler>.Instance);
    }

    private IReadOnlyList<RelayEnvelope> Sent => [.. _sent.Select(p => JsonCipher.Read(p.Wire).Envelope)];

    private RelayPacket Packet<TBody>(
        EnvelopeType type, TBody body, RelayDirection direction = RelayDirection.ServerToClient, Guid? requestId = null,
        int seq = 1) =>
        new(_chatId, JsonCipher.Seal(new RelayEnvelope(type, _chatId, requestId ?? _requestId, seq, _clock.UtcNow,
            RelayJson.ToBody(body)), direction));

    /// <summary>The request's dispatch; <paramref name="attempt"/> is its sequence number.</summary>
    private RelayPacket RequestPacket(Guid? requestId = null, int attempt = 1) => Packet(EnvelopeType.Request,
        new RequestBody("m", "Be brief.",
            [new TurnBody("user", "Hi"), new TurnBody("assistant", "Hello"), new TurnBody("user", "Why?")], 0.5, null, 64),
        requestId: requestId, seq: attempt);

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
}
