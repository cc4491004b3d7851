using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The chats' relay channels (table <c>relay_chat_channels</c>), on either database.</summary>
internal sealed class SqlRelayChatChannels(IDatabaseSession session) : IRelayChatChannels
{
    private const string Find = "SELECT channel_id FROM relay_chat_channels WHERE session_id = @SessionId";

    /// <summary>Only for a chat that exists, and never over another channel the chat holds already.</summary>
    private const string Assign = """
        INSERT INTO relay_chat_channels (session_id, channel_id)
        SELECT @SessionId, @ChannelId WHERE EXISTS (SELECT 1 FROM chat_sessions WHERE id = @SessionId)
        ON CONFLICT (session_id) DO NOTHING
        """;

    private const string Release = "DELETE FROM relay_chat_channels WHERE session_id = @SessionId AND channel_id = @ChannelId";

    public Task<string?> FindAsync(ChatId chat, CancellationToken cancellationToken) =>
        session.QuerySingleOrDefaultAsync<string?>(Find, new { SessionId = chat.Value }, cancellationToken);

    public async Task<string?> AssignAsync(ChatId chat, string channelId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(channelId))
        {
            throw new ArgumentException("A Discord channel id is needed.", nameof(channelId));
        }

        await session.ExecuteAsync(Assign, new { SessionId = chat.Value, ChannelId = channelId }, cancellationToken);
        return await FindAsync(chat, cancellationToken);
    }

    public async Task<bool> ReleaseAsync(ChatId chat, string channelId, CancellationToken cancellationToken) =>
        await session.ExecuteAsync(Release, new { SessionId = chat.Value, ChannelId = channelId }, cancellationToken) > 0;
}
