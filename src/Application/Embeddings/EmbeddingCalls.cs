using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;

namespace MeatLizard.Application.Embeddings;

/// <summary>
/// The embeds this relay server has sent and waits on: each goes sealed to one host on the control channel, and the
/// host's <c>vectors</c> or <c>error</c> (read by the inbound loop, <see cref="TryDeliver"/>) ends its wait. An embed is
/// no chat's: nothing of it is stored, and the answer of one this process did not send is left to the process that did.
/// </summary>
public sealed class EmbeddingCalls(IEnvelopeCipher cipher, IServerRelayTransport transport, IClock clock)
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<RelayEnvelope>> _waiting = new();

    /// <summary>Whether this process waits for <paramref name="requestId"/>'s answer.</summary>
    public bool Awaits(Guid requestId) => _waiting.ContainsKey(requestId);

    /// <summary>Hands a host's answer to its waiting call; false when no call here waits for it.</summary>
    public bool TryDeliver(RelayEnvelope envelope) =>
        _waiting.TryRemove(envelope.RequestId, out var waiting) && waiting.TrySetResult(envelope);

    /// <summary>
    /// Sends <paramref name="body"/> to its host and waits for its answer (a <c>vectors</c> or an <c>error</c>
    /// envelope) for at most <paramref name="timeout"/>; throws <see cref="TimeoutException"/> after it.
    /// </summary>
    public async Task<RelayEnvelope> CallAsync(EmbedBody body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var requestId = Guid.NewGuid();
        var waiting = new TaskCompletionSource<RelayEnvelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[requestId] = waiting;
        try
        {
            var envelope = new RelayEnvelope(EnvelopeType.Embed, Guid.Empty, requestId, 0, clock.UtcNow, RelayJson.ToBody(body));
            await transport.SendAsync(new RelayPacket(null, cipher.Seal(envelope, RelayDirection.ServerToClient)),
                cancellationToken);
            return await waiting.Task.WaitAsync(timeout, cancellationToken);
        }
        finally
        {
            _waiting.TryRemove(requestId, out _);
        }
    }
}
