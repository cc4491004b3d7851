using System.Globalization;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;

namespace MeatLizard.Infrastructure.Persistence;

internal sealed class SqliteChatSessionRepository(SqliteSession session) : IChatSessionRepository
{
    public Task AddAsync(ChatSession chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.ExecuteAsync("""
            INSERT INTO chat_sessions (id, owner_id, title, status, model, system_prompt, temperature, top_p,
                                       max_tokens, discord_channel_id, created_at, updated_at, closed_at)
            VALUES (@Id, @OwnerId, @Title, @Status, @Model, @SystemPrompt, @Temperature, @TopP,
                    @MaxTokens, @DiscordChannelId, @CreatedAt, @UpdatedAt, @ClosedAt)
            """, Parameters(chat), cancellationToken);
    }

    private const string SelectColumns = $"SELECT {SqliteSessionRow.Columns} FROM chat_sessions";

    public async Task<ChatSession?> GetAsync(SessionId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<SqliteSessionRow>(
            $"{SelectColumns} WHERE id = @Id", new { Id = SqlValues.Text(id.Value) }, cancellationToken);
        return row?.ToSession();
    }

    public async Task<SessionAnswerState?> GetWithAnswerStateAsync(SessionId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<SqliteSessionRow>($"""
            SELECT {SqliteSessionRow.Columns},
                   EXISTS (SELECT 1 FROM relay_requests r
                           WHERE r.session_id = chat_sessions.id
                             AND r.status IN ('pending', 'dispatched', 'streaming')) AS Answering
            FROM chat_sessions
            WHERE id = @Id
            """, new { Id = SqlValues.Text(id.Value) }, cancellationToken);
        return row is null
            ? null
            : new SessionAnswerState(row.ToSession(), row.Answering, Version(row.UpdatedAt));
    }

    /// <summary>
    /// A chat's version here is its <c>updated_at</c> (milliseconds), which every change of the chat sets. Two changes
    /// within one millisecond look like one; since every write is serialised by the one writer, what that can miss is
    /// a settings change landing in the same millisecond as a send that read the chat before it, the same outcome as
    /// the change landing just after the send.
    /// </summary>
    internal static string Version(long updatedAt) => updatedAt.ToString(CultureInfo.InvariantCulture);

    public Task UpdateAsync(ChatSession chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        return session.ExecuteAsync("""
            UPDATE chat_sessions
            SET title = @Title, status = @Status, model = @Model, system_prompt = @SystemPrompt,
                temperature = @Temperature, top_p = @TopP, max_tokens = @MaxTokens,
                discord_channel_id = @DiscordChannelId, updated_at = @UpdatedAt, closed_at = @ClosedAt
            WHERE id = @Id
            """, Parameters(chat), cancellationToken);
    }

    private static object Parameters(ChatSession chat) => new
    {
        Id = SqlValues.Text(chat.Id.Value),
        OwnerId = SqlValues.Text(chat.OwnerId.Value),
        Title = chat.Title.Value,
        Status = SqlValues.Lower(chat.Status),
        Model = chat.Model?.Value,
        SystemPrompt = chat.SystemPrompt?.Value,
        chat.Sampling.Temperature,
        chat.Sampling.TopP,
        chat.Sampling.MaxTokens,
        chat.DiscordChannelId,
        CreatedAt = SqlValues.Millis(chat.CreatedAt),
        UpdatedAt = SqlValues.Millis(chat.UpdatedAt),
        ClosedAt = SqlValues.Millis(chat.ClosedAt),
    };
}
