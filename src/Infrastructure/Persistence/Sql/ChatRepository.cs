using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Infrastructure.Persistence.Sql;

internal sealed class SqlChatRepository(IDatabaseSession session, SqlDialect dialect) : IChatRepository
{
    private const string Insert = """
        INSERT INTO chat_sessions (id, owner_id, title, status, model, system_prompt, temperature, top_p,
                                   max_tokens, created_at, updated_at, closed_at)
        VALUES (@Id, @OwnerId, @Title, @Status, @Model, @SystemPrompt, @Temperature, @TopP,
                @MaxTokens, @CreatedAt, @UpdatedAt, @ClosedAt)
        """;

    public Task AddAsync(Chat chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.ExecuteAsync(Insert, Parameters(chat), cancellationToken);
    }

    public Task<string> StartAsync(Chat chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.WriteScalarAsync<string>($"{Insert} RETURNING {dialect.InsertedRowVersion}", Parameters(chat),
            cancellationToken);
    }

    private const string SelectColumns = $"SELECT {ChatRow.Columns} FROM chat_sessions s";

    public async Task<Chat?> GetAsync(ChatId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<ChatRow>(
            $"{SelectColumns} WHERE s.id = @Id", new { Id = id.Value }, cancellationToken);
        return row?.ToSession();
    }

    public async Task<ChatAnswerState?> GetWithAnswerStateAsync(ChatId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<ChatRow>($"""
            SELECT {ChatRow.Columns}, {dialect.RowVersion} AS Version,
                   EXISTS (SELECT 1 FROM relay_requests r
                           WHERE r.session_id = s.id
                             AND r.status IN ('pending', 'dispatched', 'streaming')) AS Answering
            FROM chat_sessions s
            WHERE s.id = @Id
            """, new { Id = id.Value }, cancellationToken);
        return row is null ? null : new ChatAnswerState(row.ToSession(), row.Answering, row.Version);
    }

    public Task UpdateAsync(Chat chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.ExecuteLaterAsync("""
            UPDATE chat_sessions
            SET title = @Title, status = @Status, model = @Model, system_prompt = @SystemPrompt,
                temperature = @Temperature, top_p = @TopP, max_tokens = @MaxTokens,
                updated_at = @UpdatedAt, closed_at = @ClosedAt
            WHERE id = @Id
            """, Parameters(chat), cancellationToken);
    }

    public async Task<bool> TryCloseAsync(Chat closed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(closed);
        if (!closed.IsClosed)
        {
            throw new ArgumentException("The chat is not closed.", nameof(closed));
        }

        return await session.ExecuteAsync("""
            UPDATE chat_sessions SET status = @Status, updated_at = @UpdatedAt, closed_at = @ClosedAt
            WHERE id = @Id AND status <> @Status
            """, new { Id = closed.Id.Value, Status = SqlValues.Lower(closed.Status), closed.UpdatedAt, closed.ClosedAt },
            cancellationToken) == 1;
    }

    // Requests first: each names its user's message.
    private static readonly string[] DeleteStatements =
    [
        "DELETE FROM relay_requests WHERE session_id = @Id",
        "DELETE FROM messages WHERE session_id = @Id",
        "DELETE FROM chat_sessions WHERE id = @Id",
    ];

    public Task DeleteAsync(ChatId id, CancellationToken cancellationToken) =>
        session.ExecuteInOrderAsync(DeleteStatements, new { Id = id.Value }, cancellationToken);

    // What else names a chat its owner may have used for a while (a chat that keeps nothing has none of it), then the
    // chat itself as DeleteAsync deletes it, then the note that its stored objects are to go.
    private static readonly string[] EraseStatements =
    [
        "DELETE FROM answer_feedback WHERE session_id = @Id",
        "DELETE FROM channel_messages WHERE session_id = @Id",
        "DELETE FROM channel_current_chats WHERE session_id = @Id",
        "DELETE FROM channel_questions WHERE session_id = @Id",
        "DELETE FROM relay_chat_channels WHERE session_id = @Id",
        "DELETE FROM share_link_messages WHERE link_id IN (SELECT l.id FROM share_links l WHERE l.owner_id = @OwnerId AND l.session_id = @Id)",
        "DELETE FROM share_links WHERE owner_id = @OwnerId AND session_id = @Id",
        .. DeleteStatements,
        "INSERT INTO erased_chats (session_id, owner_id, erased_at) VALUES (@Id, @OwnerId, @Now) ON CONFLICT (session_id) DO NOTHING",
    ];

    public Task EraseAsync(UserId ownerId, ChatId id, DateTimeOffset now, CancellationToken cancellationToken) =>
        session.ExecuteInOrderAsync(EraseStatements, new { Id = id.Value, OwnerId = ownerId.Value, Now = now },
            cancellationToken);

    public Task ForgetAfterAsync(ChatId id, DateTimeOffset after, CancellationToken cancellationToken) =>
        session.ExecuteAsync("UPDATE chat_sessions SET forget_after = @After WHERE id = @Id",
            new { Id = id.Value, After = after }, cancellationToken);

    public async Task<IReadOnlyList<ChatId>> ListForgettableAsync(DateTimeOffset now, int max,
        CancellationToken cancellationToken)
    {
        var ids = await session.QueryAsync<Guid>("""
            SELECT s.id FROM chat_sessions s
            WHERE s.forget_after IS NOT NULL AND s.forget_after < @Now
              AND NOT EXISTS (SELECT 1 FROM relay_requests r
                              WHERE r.session_id = s.id AND r.status IN ('pending', 'dispatched', 'streaming'))
            ORDER BY s.forget_after
            LIMIT @Max
            """, new { Now = now, Max = max }, cancellationToken);
        return ids.Select(id => new ChatId(id)).ToList();
    }

    private static object Parameters(Chat chat) => new
    {
        Id = chat.Id.Value,
        OwnerId = chat.OwnerId.Value,
        Title = chat.Title.Value,
        Status = SqlValues.Lower(chat.Status),
        Model = chat.Model?.Value,
        SystemPrompt = chat.SystemPrompt?.Value,
        chat.Sampling.Temperature,
        chat.Sampling.TopP,
        chat.Sampling.MaxTokens,
        CreatedAt = chat.CreatedAt,
        UpdatedAt = chat.UpdatedAt,
        ClosedAt = chat.ClosedAt,
    };
}
