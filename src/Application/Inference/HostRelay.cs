using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>
/// The worker's way of answering: seals envelopes client → server and sends them on the session's channel. While the
/// transport is out (<see cref="RelayTransportUnavailableException"/>) an envelope is sealed and sent again, with
/// growing pauses, for up to <see cref="RelayOptions.MaxOutageHold"/>: the server holds its deadlines as long, so an
/// answer the model gave during a short outage still arrives as the model's.
/// </summary>
public sealed class HostRelay(IEnvelopeCipher cipher, IHostRelayTransport transport, IClock clock,
    IOptions<RelayOptions>? relay = null)
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(3);

    public async ValueTask SendAsync<TBody>(
        EnvelopeType type, Guid? chatId, Guid requestId, int seq, TBody body, CancellationToken cancellationToken)
    {
        var hold = relay?.Value.MaxOutageHold ?? TimeSpan.Zero;
        var giveUpAt = clock.UtcNow + hold;
        var pause = FirstPause;
        while (true)
        {
            // Sealed for each try: its time tells the server how fresh it is.
            var envelope = new RelayEnvelope(type, chatId ?? Guid.Empty, requestId, seq, clock.UtcNow,
                RelayJson.ToBody(body));
            try
            {
                await transport.SendAsync(new RelayPacket(chatId, cipher.Seal(envelope, RelayDirection.ClientToServer)),
                    cancellationToken);
                return;
            }
            catch (RelayTransportUnavailableException) when (clock.UtcNow + pause < giveUpAt)
            {
                await Task.Delay(pause, cancellationToken);
                pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
            }
        }
    }
}
