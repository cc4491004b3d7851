using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>Seals an envelope for a model host and sends it on the relay's transport, in the request's chat.</summary>
public sealed class HostEnvelopes(IServerRelayTransport transport, IEnvelopeCipher cipher, IClock clock)
{
    /// <summary>Sends <paramref name="body"/> as an envelope of <paramref name="type"/> numbered <paramref name="seq"/>.</summary>
    public ValueTask SendAsync(RelayRequest request, EnvelopeType type, int seq, JsonElement body, CancellationToken cancellationToken) =>
        SendAsync(request, type, seq, body, null, cancellationToken);

    /// <summary>
    /// Tells the host that has <paramref name="request"/> to stop working on it — wherever it is reached: with several
    /// API instances on the direct relay, the one it is connected to may not be this one.
    /// </summary>
    public ValueTask CancelAsync(RelayRequest request, string reason, CancellationToken cancellationToken) =>
        SendAsync(request, EnvelopeType.Cancel, request.LastSeq + 1, RelayJson.ToBody(new CancelBody(reason)),
            request.WorkerId, cancellationToken);

    private ValueTask SendAsync(
        RelayRequest request, EnvelopeType type, int seq, JsonElement body, Guid? forHost, CancellationToken cancellationToken)
    {
        var envelope = new RelayEnvelope(type, request.ChatId.Value, request.Id.Value, seq, clock.UtcNow, body);
        return transport.SendAsync(
            new RelayPacket(request.ChatId.Value, cipher.Seal(envelope, RelayDirection.ServerToClient)) { ForHost = forHost },
            cancellationToken);
    }
}
