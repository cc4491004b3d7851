using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Embeddings;

namespace MeatLizard.Application.Relay.Packets;

/// <summary>
/// Opens what model hosts send, checked against the envelopes handled before (<see cref="RelayPacketOpening"/>), and
/// takes the answers of embeds out of the way of the requests' envelopes: one this process waits for goes to its call
/// (<see cref="EmbeddingCalls"/>) and is handled; one it does not is another relay server's, left unmarked for it.
/// </summary>
public sealed class HostPacketOpening(IEnvelopeCipher cipher, EmbeddingCalls embeddings)
{
    /// <summary>The envelope to apply; null when it was refused, or was an embed's answer (delivered or not ours).</summary>
    public async ValueTask<RelayEnvelope?> OpenAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        if (await cipher.OpenUnhandledPacketAsync(packet, RelayDirection.ClientToServer, cancellationToken) is not { } envelope)
        {
            return null;
        }

        // An embed's answer travels on the control channel: the session is empty, and no chat's request is answered there.
        if (envelope.Type is EnvelopeType.Vectors or EnvelopeType.Error && envelope.SessionId == Guid.Empty)
        {
            if (embeddings.TryDeliver(envelope))
            {
                await cipher.MarkHandledAsync(envelope, cancellationToken);
            }

            return null;
        }

        return envelope;
    }

    public ValueTask MarkHandledAsync(RelayEnvelope envelope, CancellationToken cancellationToken) =>
        cipher.MarkHandledAsync(envelope, cancellationToken);
}
