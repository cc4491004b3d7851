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

/// <summary>The client bot reading what the server sends: batches, packets refused, read late, meant for another host, while draining.</summary>
public partial class WorkerTests
{
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

    [Test]
    public async Task ADispatchItsKilledRunHadBegun_ReadAgainByTheNextRun_IsLeftToTheServer_ItsNextAttemptIsRun()
    {
        // The first run takes the dispatch and streams a piece, then is killed (its job simply never ends here).
        var firstRun = new TwoRunsOfBegunJobs();
        _jobs = new HostJobs(begun: firstRun);
        var hanging = new ScriptedEngine(FirstPieceThenNothing);
        var killedRunsJobs = _jobs;
        await Handler(hanging).Handle(new HandleServerPacket(RequestPacket()), CancellationToken.None);
        await WaitUntil(() => Sent.Any(e => e.Type == EnvelopeType.Partial), "the first run streamed a piece");
        // Noted once the send has completed, a moment after the envelope reached the relay (a helper's run under load
        // looked in between, and found nothing yet).
        await WaitUntil(() => !firstRun.Mine.IsEmpty, "the first run noted the attempt begun");
        Assert.That(firstRun.Mine.Keys, Is.EquivalentTo(new[] { (_requestId, 1) }), "the attempt noted begun once sent");

        // The next run reads the same dispatch again as it catches up with its channel: not answered from the beginning
        // (its pieces would follow the ones the first run streamed), but handled, so it is not read once more.
        _sent.Clear();
        _cipher = JsonCipher.CreateMock(); // a new process: its replay memory starts empty
        _jobs = new HostJobs(begun: new TwoRunsOfBegunJobs(firstRun.Mine.Keys));
        var engine = new ScriptedEngine(WholeAnswer);
        var again = RequestPacket() with { Delivery = new CountedDelivery { CaughtUp = true } };
        await Handler(engine).Handle(new HandleServerPacket(again), CancellationToken.None);

        Assert.That(_jobs.SkippedBegunBefore, Is.EqualTo(1));
        Assert.That(((CountedDelivery)again.Delivery!).Count, Is.EqualTo(1), "handled: not read again");
        // Handed back, numbered past anything a run sent for attempt 1, so the server (which may have restarted too, and
        // not know this host did) sends it again going on from what was shown.
        var handedBack = Sent.Single();
        Assert.That((handedBack.Type, RelayJson.FromBody<ErrorBody>(handedBack).Code), Is.EqualTo((EnvelopeType.Error, "restarted")));
        Assert.That(handedBack.Seq, Is.EqualTo(RelayRequest.SeqPerAttempt - 1));
        Assert.That(RelayRequest.AttemptOf(handedBack.Seq), Is.EqualTo(1));
        _sent.Clear();

        // The server, seeing the new run, sends it again as attempt 2: that one is answered, numbered as attempt 2's.
        await Handler(engine).Handle(new HandleServerPacket(RequestPacket(attempt: 2)), CancellationToken.None);
        await JobsFinished();
        Assert.That(engine.Requests, Has.Count.EqualTo(1), "attempt 1 not answered again from the beginning");
        Assert.That(Sent.Select(e => RelayRequest.AttemptOf(e.Seq)), Is.All.EqualTo(2),
            "nothing more sent for the attempt the last run began");
        Assert.That(Sent.Count(e => e.Type == EnvelopeType.Final), Is.EqualTo(1));
        killedRunsJobs.Cancel(_requestId);
    }

    private static async IAsyncEnumerable<InferenceUpdate> FirstPieceThenNothing(
        InferenceRequest _, [EnumeratorCancellation] CancellationToken ct)
    {
        yield return new InferenceDelta("Once", 1);
        await Task.Delay(Timeout.Infinite, ct);
        yield return new InferenceCompleted(5, 1, "stop");
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
    public async Task ALaterAttemptOfARequestRunningHere_ReplacesIt_AnEqualOneIsIgnored()
    {
        // A restarted host reads the dispatch its last run had taken (attempt 1) while the server, having seen that run
        // go, sends the request again (attempt 2) and waits for attempt 2's envelopes only.
        var calls = 0;
        var engine = new ScriptedEngine((_, ct) => Interlocked.Increment(ref calls) == 1 ? UntilCancelled(ct) : Whole(null!, ct));
        var handler = Handler(engine);

        await handler.Handle(new HandleServerPacket(RequestPacket(attempt: 1)), CancellationToken.None);
        await WaitUntil(() => !engine.Requests.IsEmpty, "attempt 1 runs");
        await handler.Handle(new HandleServerPacket(RequestPacket(attempt: 1)), CancellationToken.None);
        await handler.Handle(new HandleServerPacket(RequestPacket(attempt: 2)), CancellationToken.None);
        await WaitUntil(() => engine.Requests.Count == 2 && _jobs.Count == 0, "attempt 2 ran and finished");

        var sent = Sent;
        Assert.Multiple(() =>
        {
            Assert.That(engine.Requests, Has.Count.EqualTo(2), "attempt 1 once (its repeat ignored), then attempt 2");
            Assert.That(sent.Count(e => e.Type == EnvelopeType.Final), Is.EqualTo(1));
            Assert.That(sent.Where(e => e.Type is EnvelopeType.Final or EnvelopeType.Error).Select(e => e.Seq),
                Is.All.GreaterThan(RelayRequest.SeqPerAttempt), "answered as attempt 2, nothing ended attempt 1");
        });
    }

    private static async IAsyncEnumerable<InferenceUpdate> UntilCancelled([EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        yield break;
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
            .Returns((string wire, RelayDirection direction, Guid? chatId, CancellationToken ct) =>
            {
                var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var index = held.Count;
                held.Add(release);
                return new ValueTask<EnvelopeOpenResult>(release.Task.ContinueWith(_ => failure?.Invoke(index) is { } ex
                    ? throw ex
                    : plain.OpenAsync(wire, direction, chatId, ct).Result, TaskScheduler.Default));
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

        await handler.Handle(new HandleServerPacket(new RelayPacket(_chatId, JsonCipher.Garbage)), CancellationToken.None);
        await handler.Handle(new HandleServerPacket(Packet(EnvelopeType.Request,
            new RequestBody(null, null, [new TurnBody("user", "x")], null, null, null), RelayDirection.ClientToServer)),
            CancellationToken.None);

        Assert.That(_sent, Is.Empty);
        Assert.That(engine.Requests, Is.Empty);
    }
}

/// <summary>A host's memory of begun attempts across runs, in memory: what the last run began, and this run's.</summary>
internal sealed class TwoRunsOfBegunJobs(IEnumerable<(Guid, int)>? earlier = null) : IBegunJobs
{
    private readonly HashSet<(Guid, int)> _earlier = [.. earlier ?? []];

    public ConcurrentDictionary<(Guid, int), bool> Mine { get; } = new();

    public bool BegunByAnEarlierRun(Guid requestId, int attempt) =>
        _earlier.Contains((requestId, attempt)) && !Mine.ContainsKey((requestId, attempt));

    public void Begin(Guid requestId, int attempt) => Mine[(requestId, attempt)] = true;
}
