using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

public static class RelayPacketOpening
{
    /// <summary>
    /// Opens a packet as its channel requires: an envelope must name the session whose channel carried it, and the
    /// control channel (no session) carries only envelopes with <see cref="Guid.Empty"/> as session id. Null when
    /// the cipher refused it (it has logged and counted the rejection).
    /// </summary>
    public static async ValueTask<RelayEnvelope?> OpenPacketAsync(
        this IEnvelopeCipher cipher, RelayPacket packet, RelayDirection direction, CancellationToken cancellationToken)
    {
        var opened = await cipher.OpenAsync(packet.Wire, direction, packet.ChatId ?? Guid.Empty, cancellationToken);
        return opened.IsValid ? opened.Envelope : null;
    }

    /// <summary>
    /// As <see cref="OpenPacketAsync"/>, but the envelope is only checked against those handled before; the caller
    /// marks it handled (<see cref="IEnvelopeCipher.MarkHandledAsync"/>) once what it carries is stored.
    /// </summary>
    public static async ValueTask<RelayEnvelope?> OpenUnhandledPacketAsync(
        this IEnvelopeCipher cipher, RelayPacket packet, RelayDirection direction, CancellationToken cancellationToken)
    {
        var opened = await cipher.OpenUnhandledAsync(packet.Wire, direction, packet.ChatId ?? Guid.Empty, cancellationToken);
        return opened.IsValid ? opened.Envelope : null;
    }
}
