using System.Text.Json;

namespace MeatLizard.Application.Abstractions;

/// <summary>Which way an envelope travels; part of the AAD so a message cannot be reflected back.</summary>
public enum RelayDirection : byte
{
    ServerToClient = 1,
    ClientToServer = 2,
}

public enum EnvelopeType
{
    Request,
    Ack,
    Partial,
    Final,
    Error,
    Cancel,
    Heartbeat,
}

/// <summary>
/// The plaintext of a relay message. <see cref="Body"/> holds the type-specific payload (see <c>Relay/EnvelopeBodies</c>).
/// Heartbeats use <see cref="Guid.Empty"/> as session id and the worker's instance id as request id.
/// </summary>
public sealed record RelayEnvelope(
    EnvelopeType Type, Guid SessionId, Guid RequestId, int Seq, DateTimeOffset SentAt, JsonElement Body);

public enum EnvelopeRejection
{
    None,
    BadPrefix,
    BadEncoding,
    BadLength,
    UnsupportedVersion,
    UnknownKey,
    TagMismatch,
    MalformedPayload,
    Stale,
    Replayed,
    SessionMismatch,
}

public sealed record EnvelopeOpenResult(RelayEnvelope? Envelope, EnvelopeRejection Rejection)
{
    public bool IsValid => Envelope is not null && Rejection == EnvelopeRejection.None;

    public static EnvelopeOpenResult Ok(RelayEnvelope envelope) => new(envelope, EnvelopeRejection.None);

    public static EnvelopeOpenResult Rejected(EnvelopeRejection reason) => new(null, reason);
}

/// <summary>
/// AES-256-GCM envelope codec as DESIGN.md specifies (wire text "ML1." + base64url). Opening checks the tag, the key
/// id, the freshness window, replays of (requestId, type, seq) and, when given, that the session matches the channel.
/// </summary>
public interface IEnvelopeCipher
{
    string Seal(RelayEnvelope envelope, RelayDirection direction);

    ValueTask<EnvelopeOpenResult> OpenAsync(
        string wire, RelayDirection direction, Guid? expectedSessionId, CancellationToken cancellationToken);
}

/// <summary>Remembers what was seen for a while, so a replayed envelope is refused.</summary>
public interface IReplayGuard
{
    /// <summary>True the first time a key is seen within <paramref name="ttl"/>, false after.</summary>
    ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken);
}

/// <summary>
/// One relay message in transit: the wire text and the session whose channel carries it
/// (null for the control channel that carries heartbeats).
/// </summary>
public sealed record RelayPacket(Guid? SessionId, string Wire);

public interface IRelayChannel
{
    ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken);

    IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken);
}

/// <summary>The server bot's end of the relay: sends requests and cancels, receives what workers send.</summary>
public interface IServerRelayTransport : IRelayChannel;

/// <summary>The client bot's (worker's) end of the relay.</summary>
public interface IWorkerRelayTransport : IRelayChannel;

/// <summary>
/// Tells the relay that a chat was closed, so what it keeps for the chat (over Discord: the chat's channel) is archived
/// or deleted at once. Quick (it only queues the work) and best effort: the relay also finds closed chats by itself,
/// so a signal that does not arrive only delays it.
/// </summary>
public interface ISessionClosedSignal
{
    void NotifyClosed(Guid sessionId);
}

/// <summary>For relays that keep nothing per chat (in-process).</summary>
public sealed class NoSessionClosedSignal : ISessionClosedSignal
{
    public void NotifyClosed(Guid sessionId)
    {
    }
}
