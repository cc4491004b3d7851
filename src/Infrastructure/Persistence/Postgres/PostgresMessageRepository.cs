using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>Messages are only ever added; their <c>seq</c> (an identity) records the order they were stored in.</summary>
internal sealed class PostgresMessageRepository(PostgresSession session) : IMessageRepository
{
    /// <summary>The columns an insert writes, in the order of <see cref="Values"/>.</summary>
    internal const string InsertColumns =
        "id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id, created_at";

    public Task AddAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return session.ExecuteLaterAsync($"""
            INSERT INTO messages ({InsertColumns})
            VALUES (@Id, @SessionId, @Role, @Content, @Source, @PromptTokens, @CompletionTokens, @RequestId,
                    @CreatedAt)
            """, Values(message), cancellationToken);
    }

    public async Task<Message?> GetAsync(MessageId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<PgMessageRow>($"""
            SELECT {PgMessageRow.Columns}
            FROM messages
            WHERE id = @Id
            """, new { Id = id.Value }, cancellationToken);
        return row?.ToMessage();
    }

    /// <summary>A message as statement parameters, named after its properties.</summary>
    internal static MessageValues Values(Message message) => new(
        message.Id.Value,
        message.SessionId.Value,
        SqlValues.Lower(message.Role),
        message.Content,
        SqlValues.Lower(message.Source),
        message.Tokens?.Prompt,
        message.Tokens?.Completion,
        message.RequestId?.Value,
        PgValues.Instant(message.CreatedAt));

    internal sealed record MessageValues(
        Guid Id, Guid SessionId, string Role, string Content, string Source, int? PromptTokens, int? CompletionTokens,
        Guid? RequestId, DateTimeOffset CreatedAt);
}
