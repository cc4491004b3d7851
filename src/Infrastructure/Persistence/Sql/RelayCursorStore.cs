using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The server bot's places in its Discord channels (table <c>relay_channel_cursors</c>), on either database.</summary>
internal sealed class SqlRelayCursorStore(IDatabaseSession session) : IRelayCursorStore
{
    private const string ReadAll = "SELECT channel_id AS ChannelId, last_message_id AS LastMessageId FROM relay_channel_cursors";

    /// <summary>Forward only, so a slower writer with an older place never moves it back.</summary>
    private const string Save = """
        INSERT INTO relay_channel_cursors (channel_id, last_message_id) VALUES (@ChannelId, @LastMessageId)
        ON CONFLICT (channel_id) DO UPDATE SET last_message_id = excluded.last_message_id
        WHERE relay_channel_cursors.last_message_id < excluded.last_message_id
        """;

    private const string Forget = "DELETE FROM relay_channel_cursors WHERE channel_id = @ChannelId";

    public async Task<IReadOnlyDictionary<string, ulong>> ReadAllAsync(CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<CursorRow>(ReadAll, null, cancellationToken);
        return rows.ToDictionary(r => r.ChannelId, r => (ulong)r.LastMessageId, StringComparer.Ordinal);
    }

    public async Task SaveAsync(IReadOnlyDictionary<string, ulong> lastHandled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lastHandled);
        foreach (var place in lastHandled)
        {
            // Snowflakes use 63 bits for the next century and more: they fit a signed 64-bit column as they are.
            await session.ExecuteAsync(Save, new { ChannelId = place.Key, LastMessageId = checked((long)place.Value) },
                cancellationToken);
        }
    }

    public async Task ForgetAsync(IReadOnlyCollection<string> channelIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channelIds);
        foreach (var channelId in channelIds)
        {
            await session.ExecuteAsync(Forget, new { ChannelId = channelId }, cancellationToken);
        }
    }

    private sealed class CursorRow
    {
        public string ChannelId { get; init; } = "";

        public long LastMessageId { get; init; }
    }
}
