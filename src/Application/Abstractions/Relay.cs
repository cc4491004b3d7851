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

    /// <summary>
    /// Opens as <see cref="OpenAsync"/> does, but only checks that the envelope was not handled before: the caller marks
    /// it (<see cref="MarkHandledAsync"/>) once what it carries is stored, so an envelope whose store failed (or whose
    /// process died) is still taken when it is read again. Its handling must be idempotent, as a copy read meanwhile
    /// is taken too.
    /// </summary>
    ValueTask<EnvelopeOpenResult> OpenUnhandledAsync(
        string wire, RelayDirection direction, Guid? expectedSessionId, CancellationToken cancellationToken);

    /// <summary>Remembers an envelope opened with <see cref="OpenUnhandledAsync"/> as handled: a copy is refused from now on.</summary>
    ValueTask MarkHandledAsync(RelayEnvelope envelope, CancellationToken cancellationToken);
}

/// <summary>Remembers what was seen for a while, so a replayed envelope is refused.</summary>
public interface IReplayGuard
{
    /// <summary>True the first time a key is seen within <paramref name="ttl"/>, false after.</summary>
    ValueTask<bool> TryRegisterAsync(string key, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>True when the key was registered and has not expired; registers nothing.</summary>
    ValueTask<bool> WasSeenAsync(string key, CancellationToken cancellationToken);
}

/// <summary>
/// One relay message in transit: the wire text and the session whose channel carries it
/// (null for the control channel that carries heartbeats).
/// </summary>
public sealed record RelayPacket(Guid? SessionId, string Wire)
{
    /// <summary>Set by transports that keep their place in a lasting stream; null for the in-process relay.</summary>
    public RelayDelivery? Delivery { get; init; }
}

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

/// <summary>
/// Where a relay that reads a lasting stream (Discord channels) is in each channel it reads: the last message it
/// handled, every one before it handled too. Kept across restarts, so what was posted while the relay was away is read
/// from there instead of being skipped.
/// </summary>
public interface IRelayCursorStore
{
    /// <summary>Every channel's last handled message (a snowflake).</summary>
    Task<IReadOnlyDictionary<string, ulong>> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>Moves each channel's place forward; a place at or before the stored one changes nothing.</summary>
    Task SaveAsync(IReadOnlyDictionary<string, ulong> lastHandled, CancellationToken cancellationToken);

    /// <summary>Drops the places of channels that are gone (deleted, or no longer readable).</summary>
    Task ForgetAsync(IReadOnlyCollection<string> channelIds, CancellationToken cancellationToken);
}

/// <summary>
/// What a transport that keeps its place in a lasting stream (<see cref="IRelayCursorStore"/>) attaches to a packet, so
/// it learns when the packet's work is done: only then may its place move past it.
/// </summary>
public abstract class RelayDelivery
{
    /// <summary>Read after a gap (a restart, a new gateway session) rather than as it was sent: it may be old.</summary>
    public bool CaughtUp { get; init; }

    /// <summary>What the packet carried is stored or acted on (or was refused for good): it need not be read again.</summary>
    public abstract void Handled();
}

/// <summary>For relays that keep nothing per chat (in-process).</summary>
public sealed class NoSessionClosedSignal : ISessionClosedSignal
{
    public void NotifyClosed(Guid sessionId)
    {
    }
}
