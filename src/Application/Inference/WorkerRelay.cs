using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;

namespace MeatLizard.Application.Inference;

/// <summary>The worker's way of answering: seals envelopes client → server and sends them on the session's channel.</summary>
public sealed class WorkerRelay(IEnvelopeCipher cipher, IWorkerRelayTransport transport, IClock clock)
{
    public ValueTask SendAsync<TBody>(
        EnvelopeType type, Guid? sessionId, Guid requestId, int seq, TBody body, CancellationToken cancellationToken)
    {
        var envelope = new RelayEnvelope(type, sessionId ?? Guid.Empty, requestId, seq, clock.UtcNow,
            RelayJson.ToBody(body));
        return transport.SendAsync(new RelayPacket(sessionId, cipher.Seal(envelope, RelayDirection.ClientToServer)),
            cancellationToken);
    }
}
