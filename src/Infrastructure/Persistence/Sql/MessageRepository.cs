using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// Messages are only ever added; their <c>seq</c> (SQLite's rowid, PostgreSQL's identity) records the order they were
/// stored in. Each is added at the end of its chat's current path (<see cref="PathEnd"/>): editing and regenerating
/// cut the path first (<see cref="SqlChatTree"/>), so the new message becomes a version beside what was cut.
/// </summary>
internal sealed class SqlMessageRepository(IDatabaseSession session) : IMessageRepository
{
    /// <summary>The columns an insert writes.</summary>
    internal const string InsertColumns =
        "id, session_id, role, content, source, prompt_tokens, completion_tokens, request_id, created_at, model, finish_reason, tool_calls, tool_call_id, cached, images, parent_id";

    /// <summary>
    /// The last message of the current path of the chat <paramref name="chatId"/> (an SQL expression): a new message's
    /// parent. Read by the insert itself, so every way a message is stored (a send, an answer, a tool's result, a chat
    /// network's turn) continues the path the chat shows with no read before.
    /// </summary>
    internal static string PathEnd(string chatId) =>
        $"(SELECT p.id FROM messages p WHERE p.session_id = {chatId} AND p.on_path ORDER BY p.seq DESC LIMIT 1)";

    // Written once: every message stored (two per answered question) used to format it again.
    private static readonly string InsertSql = $"""
        INSERT INTO messages ({InsertColumns})
        VALUES (@Id, @SessionId, @Role, @Content, @Source, @PromptTokens, @CompletionTokens, @RequestId,
                @CreatedAt, @Model, @FinishReason, @ToolCalls, @ToolCallId, @Cached, @Images, {PathEnd("@SessionId")})
        """;

    public Task AddAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return session.ExecuteLaterAsync(InsertSql, new
        {
            Id = message.Id.Value,
            SessionId = message.ChatId.Value,
            Role = SqlValues.Lower(message.Role),
            message.Content,
            Source = SqlValues.Lower(message.Source),
            PromptTokens = message.Tokens?.Prompt,
            CompletionTokens = message.Tokens?.Completion,
            RequestId = message.RequestId?.Value,
            message.CreatedAt,
            message.Model,
            FinishReason = SqlValues.Lower(message.Finish),
            ToolCalls = ToolCallsJson.Write(message.ToolCalls),
            message.ToolCallId,
            message.Cached,
            Images = ImagesJson.Write(message.Images),
        }, cancellationToken);
    }

    public async Task<Message?> GetAsync(MessageId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<MessageRow>($"""
            SELECT {MessageRow.Columns}
            FROM messages
            WHERE id = @Id
            """, new { Id = id.Value }, cancellationToken);
        return row?.ToMessage();
    }
}
