using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Persistence.Sqlite;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>The server bot's places in its Discord channels (table <c>relay_channel_cursors</c>); the same SQL on both databases.</summary>
internal static class RelayCursorSql
{
    public const string ReadAll = "SELECT channel_id AS ChannelId, last_message_id AS LastMessageId FROM relay_channel_cursors";

    /// <summary>Forward only, so a slower writer with an older place never moves it back.</summary>
    public const string Save = """
        INSERT INTO relay_channel_cursors (channel_id, last_message_id) VALUES (@ChannelId, @LastMessageId)
        ON CONFLICT (channel_id) DO UPDATE SET last_message_id = excluded.last_message_id
        WHERE relay_channel_cursors.last_message_id < excluded.last_message_id
        """;

    public const string Forget = "DELETE FROM relay_channel_cursors WHERE channel_id = @ChannelId";

    /// <summary>Snowflakes use 63 bits for the next century and more: they fit a signed 64-bit column as they are.</summary>
    public static object Row(KeyValuePair<string, ulong> place) =>
        new { ChannelId = place.Key, LastMessageId = checked((long)place.Value) };

    public static IReadOnlyDictionary<string, ulong> ToPlaces(IEnumerable<CursorRow> rows) =>
        rows.ToDictionary(r => r.ChannelId, r => (ulong)r.LastMessageId, StringComparer.Ordinal);

    internal sealed class CursorRow
    {
        public string ChannelId { get; init; } = "";

        public long LastMessageId { get; init; }
    }
}

internal sealed class SqliteRelayCursorStore(SqliteSession session) : IRelayCursorStore
{
    public async Task<IReadOnlyDictionary<string, ulong>> ReadAllAsync(CancellationToken cancellationToken) =>
        RelayCursorSql.ToPlaces(await session.QueryAsync<RelayCursorSql.CursorRow>(RelayCursorSql.ReadAll, null, cancellationToken));

    public async Task SaveAsync(IReadOnlyDictionary<string, ulong> lastHandled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lastHandled);
        foreach (var place in lastHandled)
        {
            await session.ExecuteAsync(RelayCursorSql.Save, RelayCursorSql.Row(place), cancellationToken);
        }
    }

    public async Task ForgetAsync(IReadOnlyCollection<string> channelIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channelIds);
        foreach (var channelId in channelIds)
        {
            await session.ExecuteAsync(RelayCursorSql.Forget, new { ChannelId = channelId }, cancellationToken);
        }
    }
}

internal sealed class PostgresRelayCursorStore(PostgresSession session) : IRelayCursorStore
{
    public async Task<IReadOnlyDictionary<string, ulong>> ReadAllAsync(CancellationToken cancellationToken) =>
        RelayCursorSql.ToPlaces(await session.QueryAsync<RelayCursorSql.CursorRow>(RelayCursorSql.ReadAll, null, cancellationToken));

    public async Task SaveAsync(IReadOnlyDictionary<string, ulong> lastHandled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lastHandled);
        foreach (var place in lastHandled)
        {
            await session.ExecuteAsync(RelayCursorSql.Save, RelayCursorSql.Row(place), cancellationToken);
        }
    }

    public async Task ForgetAsync(IReadOnlyCollection<string> channelIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channelIds);
        foreach (var channelId in channelIds)
        {
            await session.ExecuteAsync(RelayCursorSql.Forget, new { ChannelId = channelId }, cancellationToken);
        }
    }
}
