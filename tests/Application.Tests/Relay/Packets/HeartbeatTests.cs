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

/// <summary>A host's heartbeat: its presence recorded, and the dispatcher woken when it can take work.</summary>
public class HeartbeatTests : PacketTestBase
{
    [Test]
    public async Task Heartbeat_ReadLateAfterARestart_OlderThanTheWorkerTimeout_DoesNotCountTheWorkerAlive()
    {
        Ports.Clock.Set(7);
        RelayPacket Beat(int seq, DateTimeOffset sentAt) => new(null, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat,
            Guid.Empty, SendingHost, seq, sentAt, RelayJson.ToBody(new HeartbeatBody(SendingHost, "llama-server", true, 0, false, null))),
            RelayDirection.ClientToServer)) { Delivery = new CountedDelivery { CaughtUp = true } };
        var old = Beat(1, Ports.Clock.UtcNow - Ports.RelayOptions.WorkerTimeout - TimeSpan.FromSeconds(1));
        var recent = Beat(2, Ports.Clock.UtcNow - Ports.RelayOptions.WorkerTimeout + TimeSpan.FromSeconds(1));

        await Handler.Handle(new HandleHostPacket([old]), CancellationToken.None);
        Ports.Presence.Verify(p => p.RecordAsync(It.IsAny<HostHealth>(), It.IsAny<CancellationToken>()), Times.Never);
        await Handler.Handle(new HandleHostPacket([recent]), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(It.IsAny<HostHealth>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(((CountedDelivery)old.Delivery!).Count, Is.EqualTo(1), "handled: not read again");
    }

    [Test]
    public async Task Heartbeat_ReadLate_NotesItsRunFromWhenItWasSent_SoALaterRunsAckIsNotTakenForLost()
    {
        // The last heartbeat of a run that has ended, sent at T0+5 and read at T0+7 (caught up after a restart, within
        // the worker timeout); another run of the host acknowledged a request at T0+6. The run heard counts from T0+5:
        // the ack came after it, from a later run, which is alive.
        Ports.Clock.Set(7);
        var ended = Guid.NewGuid();
        var beat = new RelayPacket(null, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, 1,
            Moments.At(5), RelayJson.ToBody(new HeartbeatBody(SendingHost, "llama-server", true, 0, false, null, BootId: ended))),
            RelayDirection.ClientToServer)) { Delivery = new CountedDelivery { CaughtUp = true } };

        await Handler.Handle(new HandleHostPacket([beat]), CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(Ports.HostRuns.LostWithAnEarlierRun(SendingHost, Moments.At(6), ackedBy: Guid.NewGuid()), Is.False,
                "acknowledged after the heartbeat was sent, by another run: a later one");
            Assert.That(Ports.HostRuns.LostWithAnEarlierRun(SendingHost, Moments.At(4), ackedBy: Guid.NewGuid()), Is.True,
                "acknowledged before it by another run: an earlier one, gone");
        });
    }

    [Test]
    public async Task Heartbeat_TellsTheTransportWhoseItWas_SoAnInstanceKnowsTheHostsConnectedToIt()
    {
        Ports.Clock.Set(7);
        var delivery = new CountedDelivery();
        var beat = new RelayPacket(null, JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, 4,
            Ports.Clock.UtcNow, RelayJson.ToBody(new HeartbeatBody(SendingHost, "llama-server", true, 0, false, null))),
            RelayDirection.ClientToServer)) { Delivery = delivery };
        var forged = new RelayPacket(null, "ML1.not-sealed-with-the-keys") { Delivery = new CountedDelivery() };

        await Handler.Handle(new HandleHostPacket([beat, forged]), CancellationToken.None);

        Assert.That(delivery.Heard, Is.EqualTo(new[] { SendingHost }));
        Assert.That(((CountedDelivery)forged.Delivery!).Heard, Is.Empty, "only what the relay keys opened tells whose it is");
    }

    [Test]
    public async Task Heartbeat_RecordsTheWorkersPresence()
    {
        Ports.Clock.Set(7);
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, 4, Ports.Clock.UtcNow,
            RelayJson.ToBody(new HeartbeatBody(SendingHost, "llama-server", true, 1, false, null))),
            RelayDirection.ClientToServer);

        await Handler.Handle(new HandleHostPacket(new RelayPacket(null, wire)), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(
            new HostHealth(SendingHost, "llama-server", true, 1, false, null, Moments.At(7)),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [TestCase("{\"workerId\":\"W\",\"engine\":\"LlamaServer\",\"engineReady\":false,\"jobsRunning\":0,\"draining\":false,\"lastError\":\"llama-server is loading the model\",\"engineLoading\":true}", true)]
    [TestCase("{\"workerId\":\"W\",\"engine\":\"LlamaServer\",\"engineReady\":false,\"jobsRunning\":0,\"draining\":false,\"lastError\":null}", false)]
    [TestCase("{\"workerId\":\"W\",\"engine\":\"LlamaServer\",\"engineReady\":false,\"jobsRunning\":0,\"draining\":false,\"lastError\":\"stopped\",\"engineLoading\":true,\"engineRestarting\":true}", true)]
    public async Task Heartbeat_RecordsWhetherTheModelIsLoading_AnOlderWorkerWithoutTheFieldIsNot(string body, bool loading)
    {
        Ports.Clock.Set(7);
        var json = System.Text.Json.JsonDocument.Parse(body.Replace("\"W\"", $"\"{SendingHost}\"", StringComparison.Ordinal));
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, 4, Ports.Clock.UtcNow,
            json.RootElement.Clone()), RelayDirection.ClientToServer);

        await Handler.Handle(new HandleHostPacket(new RelayPacket(null, wire)), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(
            It.Is<HostHealth>(h => h.WorkerId == SendingHost && !h.EngineReady && h.EngineLoading == loading
                                     && h.Accepts == loading),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [TestCase(false, true, true)]
    [TestCase(true, true, false)]
    [TestCase(false, false, false)]
    public async Task Heartbeat_RecordsAnEngineStartingAgain_WhichTakesNoWorkButCounts(bool ready, bool restarting, bool recorded)
    {
        Ports.Clock.Set(7);
        var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, 4, Ports.Clock.UtcNow,
            RelayJson.ToBody(new HeartbeatBody(SendingHost, "LlamaServer", ready, 0, false, null, EngineLoading: !ready,
                EngineRestarting: restarting))), RelayDirection.ClientToServer);

        await Handler.Handle(new HandleHostPacket(new RelayPacket(null, wire)), CancellationToken.None);

        Ports.Presence.Verify(p => p.RecordAsync(
            It.Is<HostHealth>(h => h.EngineRestarting == recorded && h.Accepts && h.TakesWork == !recorded),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task AHostWhoseEngineIsBack_WakesTheDispatcherAtOnce_NotAtItsNextPoll()
    {
        async Task BeatAsync(int seq, bool ready, bool restarting)
        {
            var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, seq, Ports.Clock.UtcNow,
                RelayJson.ToBody(new HeartbeatBody(SendingHost, "LlamaServer", ready, 0, false, null, EngineLoading: !ready,
                    EngineRestarting: restarting))), RelayDirection.ClientToServer);
            await Handler.Handle(new HandleHostPacket(new RelayPacket(null, wire)), CancellationToken.None);
        }

        await BeatAsync(1, ready: true, restarting: false);
        Ports.QueueSignal.Invocations.Clear();
        await BeatAsync(2, ready: false, restarting: true);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Never, "a host whose engine is starting again takes nothing");
        await BeatAsync(3, ready: true, restarting: false);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "its engine is back: what waits may go to it now");
        await BeatAsync(4, ready: true, restarting: false);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "no change, no wake-up");
    }

    [Test]
    public async Task AHostBackAsANewRun_OrAfterItWasGone_WakesTheDispatcher()
    {
        var firstRun = Guid.NewGuid();
        async Task BeatAsync(int seq, Guid boot)
        {
            var wire = JsonCipher.Seal(new RelayEnvelope(EnvelopeType.Heartbeat, Guid.Empty, SendingHost, seq, Ports.Clock.UtcNow,
                RelayJson.ToBody(new HeartbeatBody(SendingHost, "LlamaServer", true, 0, false, null, BootId: boot))),
                RelayDirection.ClientToServer);
            await Handler.Handle(new HandleHostPacket(new RelayPacket(null, wire)), CancellationToken.None);
        }

        Ports.Clock.Set(10);
        await BeatAsync(1, firstRun);
        await BeatAsync(2, firstRun);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Once, "it came online: once");
        var secondRun = Guid.NewGuid();
        await BeatAsync(3, secondRun);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Exactly(2), "a new run of it (killed and started again)");
        Ports.Clock.Set(10 + Ports.RelayOptions.WorkerTimeout.TotalSeconds * 3);
        await BeatAsync(4, secondRun);
        Ports.QueueSignal.Verify(s => s.NotifyPending(), Times.Exactly(3), "back after it was gone");
    }
}
