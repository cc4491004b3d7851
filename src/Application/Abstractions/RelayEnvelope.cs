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

    /// <summary>Server → client: texts to turn into vectors (added later; an older host refuses it as malformed).</summary>
    Embed,

    /// <summary>Client → server: the vectors of an <see cref="Embed"/>.</summary>
    Vectors,
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

    /// <summary>
    /// Handled by another relay process first (two server bots read the same channels and share the work): not a fault
    /// of the envelope, so neither counted nor warned about.
    /// </summary>
    TakenByPeer,
}

public sealed record EnvelopeOpenResult(RelayEnvelope? Envelope, EnvelopeRejection Rejection)
{
    public bool IsValid => Envelope is not null && Rejection == EnvelopeRejection.None;

    public static EnvelopeOpenResult Ok(RelayEnvelope envelope) => new(envelope, EnvelopeRejection.None);

    public static EnvelopeOpenResult Rejected(EnvelopeRejection reason) => new(null, reason);
}
