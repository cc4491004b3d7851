using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>Messages are only ever added; their <c>seq</c> (the rowid) records the order they were stored in.</summary>
internal sealed class SqliteMessageRepository(SqliteSession session) : IMessageRepository
{
    public Task AddAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return session.ExecuteAsync("""
            INSERT INTO messages (id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id,
                                  created_at)
            VALUES (@Id, @SessionId, @Role, @Content, @Source, @PromptTokens, @CompletionTokens, @RequestId,
                    @CreatedAt)
            """, new
        {
            Id = SqlValues.Text(message.Id.Value),
            SessionId = SqlValues.Text(message.SessionId.Value),
            Role = SqlValues.Lower(message.Role),
            message.Content,
            Source = SqlValues.Lower(message.Source),
            PromptTokens = message.Tokens?.Prompt,
            CompletionTokens = message.Tokens?.Completion,
            RequestId = SqlValues.Text(message.RequestId?.Value),
            CreatedAt = SqlValues.Millis(message.CreatedAt),
        }, cancellationToken);
    }

    public async Task<Message?> GetAsync(MessageId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<MessageRow>($"""
            SELECT {MessageRow.Columns}
            FROM messages
            WHERE id = @Id
            """, new { Id = SqlValues.Text(id.Value) }, cancellationToken);
        return row?.ToMessage();
    }
}
