using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>A <c>messages</c> row as Dapper reads it, for both the repository and the read model.</summary>
internal sealed class MessageRow
{
    public const string Columns = """
        id AS Id, session_id AS ChatId, role AS Role, content AS Content, source AS Source,
        prompt_tokens AS PromptTokens, completion_tokens AS CompletionTokens, request_id AS RequestId,
        created_at AS CreatedAt, model AS Model, finish_reason AS FinishReason, tool_calls AS ToolCalls,
        tool_call_id AS ToolCallId, parent_id AS ParentId, cached AS Cached, images AS Images
        """;

    public Guid Id { get; init; }

    public Guid ChatId { get; init; }

    public string Role { get; init; } = "";

    public string Content { get; init; } = "";

    public string Source { get; init; } = "";

    public int? PromptTokens { get; init; }

    public int? CompletionTokens { get; init; }

    public Guid? RequestId { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public string? Model { get; init; }

    public string? FinishReason { get; init; }

    public string? ToolCalls { get; init; }

    public string? ToolCallId { get; init; }

    public Guid? ParentId { get; init; }

    public bool Cached { get; init; }

    public string? Images { get; init; }

    public Message ToMessage() => Message.Restore(
        new MessageId(Id),
        new ChatId(ChatId),
        SqlValues.ToEnum<MessageRole>(Role),
        Content,
        SqlValues.ToEnum<MessageSource>(Source),
        Tokens(),
        RequestId is { } requestId ? new RelayRequestId(requestId) : null,
        CreatedAt,
        Model,
        SqlValues.ToOptionalEnum<FinishReason>(FinishReason),
        ToolCallsJson.Read(ToolCalls),
        ToolCallId,
        ParentId is { } parentId ? new MessageId(parentId) : null,
        Cached,
        ImagesJson.Read(Images));

    private TokenCounts? Tokens() =>
        PromptTokens is { } prompt && CompletionTokens is { } completion ? new TokenCounts(prompt, completion) : null;
}
