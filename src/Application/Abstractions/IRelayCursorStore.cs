
namespace MeatLizard.Application.Abstractions;

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
