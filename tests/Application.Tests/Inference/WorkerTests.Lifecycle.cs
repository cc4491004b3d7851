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

/// <summary>The client bot stopping (draining its jobs) and telling the server of itself in heartbeats.</summary>
public partial class WorkerTests
{
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

    private HostLoop Loop(IInferenceEngine engine, TimeSpan drainDeadline)
    {
        // The heartbeat the loop sends on stopping goes through the mediator; it is not what these tests look at.
        var services = new ServiceCollection().AddSingleton(new Mock<MediatR.IMediator>().Object).BuildServiceProvider();
        return new HostLoop(services.GetRequiredService<IServiceScopeFactory>(), new HostEngine([engine]),
            Transport().Object, _jobs, Options.Create(new RelayOptions()),
            Options.Create(new ModelHostOptions { DrainDeadline = drainDeadline }), NullLogger<HostLoop>.Instance);
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

    [TestCase(false, "no request goes to it (circuit breaker open)")]
    [TestCase(true, "answered 503: overloaded")]
    public async Task Heartbeat_OfAnEngineNotReady_SaysWhyNot_RatherThanTheLastJobsFailure_WhichAReadyOneSays(
        bool ready, string told)
    {
        _jobs.RecordError("answered 503: overloaded");

        var beat = await HeartbeatOfAsync(new EngineHealth(ready, ready ? null : "no request goes to it (circuit breaker open)"));

        Assert.That(beat.LastError, Is.EqualTo(told));
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
        var handler = new SendHostHeartbeatHandler(new HostEngine([engine]), _jobs,
            new HostRelay(_cipher.Object, Transport().Object, _clock),
            Microsoft.Extensions.Options.Options.Create(new InferenceOptions()),
            Microsoft.Extensions.Options.Options.Create(new ModelHostOptions()));

        await handler.Handle(new SendHostHeartbeat(), CancellationToken.None);

        return RelayJson.FromBody<HeartbeatBody>(Sent.Single());
    }

    [Test]
    public async Task AnEngineWhoseHealthChanges_IsToldInAHeartbeatAtOnce_NotAtTheNextInterval()
    {
        var engine = new ChangingEngine();
        var beats = 0;
        var mediator = new Mock<MediatR.IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<SendHostHeartbeat>(), It.IsAny<CancellationToken>()))
            .Callback(() => Interlocked.Increment(ref beats)).ReturnsAsync(MediatR.Unit.Value);
        var services = new ServiceCollection().AddSingleton(mediator.Object).BuildServiceProvider();
        var transport = new Mock<IHostRelayTransport>();
        transport.Setup(t => t.ReceiveAllAsync(It.IsAny<CancellationToken>())).Returns(Nothing);
        var loop = new HostLoop(services.GetRequiredService<IServiceScopeFactory>(), new HostEngine([engine]),
            transport.Object, _jobs, Options.Create(new RelayOptions { HeartbeatInterval = TimeSpan.FromHours(1) }),
            Options.Create(new ModelHostOptions()), NullLogger<HostLoop>.Instance);
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
        var heartbeat = new SendHostHeartbeatHandler(new HostEngine([engine]), _jobs,
            new HostRelay(_cipher.Object, Transport().Object, _clock), Microsoft.Extensions.Options.Options.Create(_inference),
            Microsoft.Extensions.Options.Options.Create(new ModelHostOptions()));
        await heartbeat.Handle(new SendHostHeartbeat(), CancellationToken.None);
        await Handler(engine).Handle(new HandleServerPacket(Packet(EnvelopeType.Request,
            new RequestBody("beta", null, [new TurnBody("user", "Hi")], null, null, 8), requestId: Guid.NewGuid())), CancellationToken.None);
        _sent.Clear();

        await heartbeat.Handle(new SendHostHeartbeat(), CancellationToken.None);
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
            var handler = new SendHostHeartbeatHandler(new HostEngine([engine]), _jobs,
                new HostRelay(_cipher.Object, Transport().Object, _clock),
                Microsoft.Extensions.Options.Options.Create(new InferenceOptions { Engine = "LlamaServer", ModelPath = "/m/tiny-q4.gguf" }),
                Microsoft.Extensions.Options.Options.Create(new ModelHostOptions()));
            await handler.Handle(new SendHostHeartbeat(), CancellationToken.None);
            return RelayJson.FromBody<HeartbeatBody>(Sent.Single()).Models;
        }

        Assert.That(await ModelsAsync(["fast", "big:70b"]), Is.EqualTo(new[] { "fast", "big:70b" }));
        Assert.That(await ModelsAsync(null), Is.EqualTo(new[] { "tiny-q4" }));
    }
}
