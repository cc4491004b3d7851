
namespace MeatLizard.Application.Abstractions;

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
