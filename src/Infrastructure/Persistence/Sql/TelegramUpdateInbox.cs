using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Telegram;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The Telegram bot's offset and pending updates (migration 0021), on either database.</summary>
internal sealed class SqlTelegramUpdateInbox(IDatabaseSession session, IUnitOfWork unitOfWork) : ITelegramUpdateInbox
{
    private const string ReadOffset = "SELECT next_offset FROM telegram_offsets WHERE bot_id = @BotId";

    /// <summary>Forward only, so a late writer with an older offset never moves it back.</summary>
    private const string SaveOffset = """
        INSERT INTO telegram_offsets (bot_id, next_offset) VALUES (@BotId, @NextOffset)
        ON CONFLICT (bot_id) DO UPDATE SET next_offset = excluded.next_offset
        WHERE telegram_offsets.next_offset < excluded.next_offset
        """;

    private const string Store = """
        INSERT INTO telegram_pending_updates (bot_id, update_id, payload) VALUES (@BotId, @UpdateId, @Payload)
        ON CONFLICT (bot_id, update_id) DO NOTHING
        """;

    private const string ReadPending = """
        SELECT update_id AS UpdateId, payload AS Payload FROM telegram_pending_updates
        WHERE bot_id = @BotId ORDER BY update_id
        """;

    private const string Complete = "DELETE FROM telegram_pending_updates WHERE bot_id = @BotId AND update_id = @UpdateId";

    public async Task<long> ReadOffsetAsync(string botId, CancellationToken cancellationToken) =>
        await session.QuerySingleOrDefaultAsync<long?>(ReadOffset, new { BotId = botId }, cancellationToken) ?? 0;

    public async Task AcceptAsync(
        string botId, IReadOnlyList<StoredTelegramUpdate> updates, long nextOffset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        await unitOfWork.InTransactionAsync(async token =>
        {
            foreach (var update in updates)
            {
                await session.ExecuteAsync(Store, new { BotId = botId, update.UpdateId, update.Payload }, token);
            }

            await session.ExecuteAsync(SaveOffset, new { BotId = botId, NextOffset = nextOffset }, token);
            return true;
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<StoredTelegramUpdate>> ReadPendingAsync(string botId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<PendingRow>(ReadPending, new { BotId = botId }, cancellationToken);
        return rows.Select(r => new StoredTelegramUpdate(r.UpdateId, r.Payload)).ToList();
    }

    public Task CompleteAsync(string botId, long updateId, CancellationToken cancellationToken) =>
        session.ExecuteAsync(Complete, new { BotId = botId, UpdateId = updateId }, cancellationToken);

    private sealed class PendingRow
    {
        public long UpdateId { get; init; }

        public string Payload { get; init; } = "";
    }
}
