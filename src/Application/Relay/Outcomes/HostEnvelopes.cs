using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>Seals an envelope for a model host and sends it on the relay's transport, in the request's chat.</summary>
public sealed class HostEnvelopes(IServerRelayTransport transport, IEnvelopeCipher cipher, HostsToldToStop told, IClock clock)
{
    /// <summary>Sends <paramref name="body"/> as an envelope of <paramref name="type"/> numbered <paramref name="seq"/>.</summary>
    public ValueTask SendAsync(RelayRequest request, EnvelopeType type, int seq, JsonElement body, CancellationToken cancellationToken) =>
        SendAsync(request, type, seq, body, null, cancellationToken);

    /// <summary>
    /// Tells the host that has <paramref name="request"/> to stop working on it — wherever it is reached: with several
    /// API instances on the direct relay, the one it is connected to may not be this one.
    /// </summary>
    public ValueTask CancelAsync(RelayRequest request, string reason, CancellationToken cancellationToken)
    {
        told.Note(request.Id.Value);
        return SendCancelAsync(request, reason, cancellationToken);
    }

    /// <summary>
    /// Tells the host still working on <paramref name="request"/>, which has ended, to stop — unless this process told it
    /// already. Its end was decided elsewhere, and the cancel sent from there may not have reached the host: sent through
    /// Redis while Redis was down, or while the host was between instances. Returns whether it was told now.
    /// </summary>
    public async ValueTask<bool> StopEndedAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        if (!told.Note(request.Id.Value))
        {
            return false;
        }

        await SendCancelAsync(request, "the request has ended", cancellationToken);
        return true;
    }

    private ValueTask SendCancelAsync(RelayRequest request, string reason, CancellationToken cancellationToken) =>
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
