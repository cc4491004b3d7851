using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>Removes the tail of a chat by <c>seq</c>, the order messages were stored in.</summary>
internal sealed class SqliteChatHistoryEditor(SqliteSession session) : IChatHistoryEditor
{
    public async Task<MessageId?> GetLastUserMessageIdAsync(SessionId sessionId, CancellationToken cancellationToken)
    {
        var id = await session.QuerySingleOrDefaultAsync<string>("""
            SELECT id FROM messages
            WHERE session_id = @SessionId AND role = 'user'
            ORDER BY seq DESC
            LIMIT 1
            """, new { SessionId = SqlValues.Text(sessionId.Value) }, cancellationToken);
        return id is null ? null : new MessageId(Guid.Parse(id));
    }

    public Task RemoveAfterAsync(SessionId sessionId, MessageId messageId, CancellationToken cancellationToken) =>
        RemoveAsync(sessionId, messageId, ">", cancellationToken);

    public Task RemoveFromAsync(SessionId sessionId, MessageId messageId, CancellationToken cancellationToken) =>
        RemoveAsync(sessionId, messageId, ">=", cancellationToken);

    private Task RemoveAsync(SessionId sessionId, MessageId messageId, string comparison, CancellationToken cancellationToken) =>
        session.ExecuteAsync($"""
            DELETE FROM relay_requests
            WHERE session_id = @SessionId
              AND status IN ('completed', 'timedout', 'fallback', 'failed', 'cancelled')
              AND user_message_id IN (
                  SELECT id FROM messages
                  WHERE session_id = @SessionId AND seq {comparison} (SELECT seq FROM messages WHERE id = @MessageId));
            DELETE FROM messages
            WHERE session_id = @SessionId AND seq {comparison} (SELECT seq FROM messages WHERE id = @MessageId);
            """, new { SessionId = SqlValues.Text(sessionId.Value), MessageId = SqlValues.Text(messageId.Value) },
            cancellationToken);
}
