using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Persistence.Sql;
using Npgsql;
using NpgsqlTypes;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Messages in the shape of the group writers' statements (<see cref="PostgresQueueWriter"/>,
/// <see cref="PostgresAnswerWriter"/>): one array per column, one element per message, unnested into
/// <see cref="SqlMessageRepository.InsertColumns"/>.
/// </summary>
internal static class PostgresMessageArrays
{
    /// <summary>A batch of messages as arrays, one element per message (<see cref="AddMessageArrays"/>).</summary>
    internal const string MessageArrays = """
        @MessageIds, @MessageSessionIds, @MessageRoles, @MessageContents, @MessageSources, @MessagePromptTokens,
        @MessageCompletionTokens, @MessageRequestIds, @MessageCreatedAt, @MessageModels, @MessageFinishReasons,
        @MessageToolCalls, @MessageToolCallIds, @MessageCached, @MessageImages
        """;

    /// <summary>The names of <see cref="MessageArrays"/>' columns once unnested, in <see cref="SqlMessageRepository.InsertColumns"/>' order.</summary>
    internal const string MessageArrayColumns = """
        message_id, message_session_id, message_role, message_content, message_source, message_prompt_tokens,
        message_completion_tokens, message_request_id, message_created_at, message_model, message_finish_reason,
        message_tool_calls, message_tool_call_id, message_cached, message_images
        """;

    /// <summary>
    /// <see cref="MessageArrayColumns"/> of the unnested row <c>v</c>, and its parent (the end of its chat's current path,
    /// as the statement began), for an INSERT's SELECT list.
    /// </summary>
    internal static readonly string MessageValuesFromV = $"""
        v.message_id, v.message_session_id, v.message_role, v.message_content, v.message_source, v.message_prompt_tokens,
        v.message_completion_tokens, v.message_request_id, v.message_created_at, v.message_model, v.message_finish_reason,
        v.message_tool_calls, v.message_tool_call_id, v.message_cached, v.message_images, {SqlMessageRepository.PathEnd("v.message_session_id")}
        """;

    internal static void AddMessageArrays(NpgsqlParameterCollection parameters, IEnumerable<Message> messages)
    {
        var values = messages.Select(Values).ToList();
        parameters.AddWithValue("MessageIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, values.Select(m => m.Id).ToArray());
        parameters.AddWithValue("MessageSessionIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            values.Select(m => m.ChatId).ToArray());
        parameters.AddWithValue("MessageRoles", NpgsqlDbType.Array | NpgsqlDbType.Text, values.Select(m => m.Role).ToArray());
        parameters.AddWithValue("MessageContents", NpgsqlDbType.Array | NpgsqlDbType.Text,
            values.Select(m => m.Content).ToArray());
        parameters.AddWithValue("MessageSources", NpgsqlDbType.Array | NpgsqlDbType.Text,
            values.Select(m => m.Source).ToArray());
        parameters.AddWithValue("MessagePromptTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            values.Select(m => m.PromptTokens).ToArray());
        parameters.AddWithValue("MessageCompletionTokens", NpgsqlDbType.Array | NpgsqlDbType.Integer,
            values.Select(m => m.CompletionTokens).ToArray());
        parameters.AddWithValue("MessageRequestIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            values.Select(m => m.RequestId).ToArray());
        parameters.AddWithValue("MessageCreatedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            values.Select(m => m.CreatedAt).ToArray());
        parameters.AddWithValue("MessageModels", NpgsqlDbType.Array | NpgsqlDbType.Text, values.Select(m => m.Model).ToArray());
        parameters.AddWithValue("MessageFinishReasons", NpgsqlDbType.Array | NpgsqlDbType.Text,
            values.Select(m => m.FinishReason).ToArray());
        parameters.AddWithValue("MessageToolCalls", NpgsqlDbType.Array | NpgsqlDbType.Text,
            values.Select(m => m.ToolCalls).ToArray());
        parameters.AddWithValue("MessageToolCallIds", NpgsqlDbType.Array | NpgsqlDbType.Text,
            values.Select(m => m.ToolCallId).ToArray());
        parameters.AddWithValue("MessageCached", NpgsqlDbType.Array | NpgsqlDbType.Boolean,
            values.Select(m => m.Cached).ToArray());
        parameters.AddWithValue("MessageImages", NpgsqlDbType.Array | NpgsqlDbType.Text,
            values.Select(m => m.Images).ToArray());
    }

    private static MessageValues Values(Message message) => new(
        message.Id.Value,
        message.ChatId.Value,
        SqlValues.Lower(message.Role),
        message.Content,
        SqlValues.Lower(message.Source),
        message.Tokens?.Prompt,
        message.Tokens?.Completion,
        message.RequestId?.Value,
        PgValues.Instant(message.CreatedAt),
        message.Model,
        SqlValues.Lower(message.Finish),
        ToolCallsJson.Write(message.ToolCalls),
        message.ToolCallId,
        message.Cached,
        ImagesJson.Write(message.Images));

    internal sealed record MessageValues(
        Guid Id, Guid ChatId, string Role, string Content, string Source, int? PromptTokens, int? CompletionTokens,
        Guid? RequestId, DateTimeOffset CreatedAt, string? Model, string? FinishReason, string? ToolCalls,
        string? ToolCallId, bool Cached, string? Images);
}
