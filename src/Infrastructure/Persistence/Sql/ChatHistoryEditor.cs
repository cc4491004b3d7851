using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Removes the tail of a chat by <c>seq</c>, the order messages were stored in.</summary>
internal sealed class SqlChatHistoryEditor(ISqlSession session) : IChatHistoryEditor
{
    public async Task<MessageId?> GetLastUserMessageIdAsync(SessionId sessionId, CancellationToken cancellationToken)
    {
        var id = await session.QuerySingleOrDefaultAsync<Guid?>("""
            SELECT id FROM messages
            WHERE session_id = @SessionId AND role = 'user'
            ORDER BY seq DESC
            LIMIT 1
            """, new { SessionId = sessionId.Value }, cancellationToken);
        return id is { } value ? new MessageId(value) : null;
    }

    public Task RemoveAfterAsync(SessionId sessionId, MessageId messageId, CancellationToken cancellationToken) =>
        RemoveAsync(sessionId, messageId, ">", cancellationToken);

    public Task RemoveFromAsync(SessionId sessionId, MessageId messageId, CancellationToken cancellationToken) =>
        RemoveAsync(sessionId, messageId, ">=", cancellationToken);

    // The finished requests that asked the removed messages go first: relay_requests.user_message_id references them.
    private Task RemoveAsync(SessionId sessionId, MessageId messageId, string comparison, CancellationToken cancellationToken) =>
        session.ExecuteInOrderAsync(
            [
                $"""
                DELETE FROM relay_requests
                WHERE session_id = @SessionId
                  AND status IN ('completed', 'timedout', 'fallback', 'failed', 'cancelled')
                  AND user_message_id IN (
                      SELECT id FROM messages
                      WHERE session_id = @SessionId AND seq {comparison} (SELECT seq FROM messages WHERE id = @MessageId))
                """,
                $"""
                DELETE FROM messages
                WHERE session_id = @SessionId AND seq {comparison} (SELECT seq FROM messages WHERE id = @MessageId)
                """,
            ],
            new { SessionId = sessionId.Value, MessageId = messageId.Value },
            cancellationToken);
}
