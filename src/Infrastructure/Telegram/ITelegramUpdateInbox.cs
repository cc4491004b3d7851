namespace MeatLizard.Infrastructure.Telegram;

/// <summary>One update as Telegram sent it: its id and its JSON, kept as received.</summary>
public sealed record StoredTelegramUpdate(long UpdateId, string Payload);

/// <summary>
/// Where the bot is in its Telegram update queue, kept durably (tables <c>telegram_offsets</c> and
/// <c>telegram_pending_updates</c>). Telegram forgets an update once getUpdates is called with a higher offset, so an
/// update is first stored here together with the new offset and only then confirmed; it leaves when it is handled.
/// </summary>
public interface ITelegramUpdateInbox
{
    /// <summary>The offset to ask getUpdates for next; 0 (Telegram's "earliest unconfirmed") when none is stored.</summary>
    Task<long> ReadOffsetAsync(string botId, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="updates"/> as pending and moves the offset to <paramref name="nextOffset"/> (forward only),
    /// in one transaction. An update already stored is kept as it is.
    /// </summary>
    Task AcceptAsync(string botId, IReadOnlyList<StoredTelegramUpdate> updates, long nextOffset, CancellationToken cancellationToken);

    /// <summary>The updates stored and not yet handled, oldest first.</summary>
    Task<IReadOnlyList<StoredTelegramUpdate>> ReadPendingAsync(string botId, CancellationToken cancellationToken);

    /// <summary>Forgets a handled update.</summary>
    Task CompleteAsync(string botId, long updateId, CancellationToken cancellationToken);
}
