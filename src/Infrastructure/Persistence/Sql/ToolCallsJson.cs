using System.Text.Json;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// An answer's tool calls as the <c>messages.tool_calls</c> column holds them: NULL when it asked for none, else a JSON
/// array of <c>{"id", "name", "arguments"}</c>.
/// </summary>
internal static class ToolCallsJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static string? Write(IReadOnlyList<ToolCall> calls) =>
        calls.Count == 0 ? null : JsonSerializer.Serialize(calls.Select(c => new Stored(c.Id, c.Name, c.Arguments)), Options);

    public static IReadOnlyList<ToolCall> Read(string? json) =>
        json is null
            ? []
            : (JsonSerializer.Deserialize<Stored[]>(json, Options) ?? [])
            .Select(c => ToolCall.Create(c.Id, c.Name, c.Arguments)).ToList();

    /// <summary>A turn of the history the model is shown, from its stored columns.</summary>
    public static Application.Common.Models.ChatTurn Turn(string role, string content, string? toolCalls, string? toolCallId,
        string? images = null) =>
        (toolCalls is null && toolCallId is null
            ? new Application.Common.Models.ChatTurn(SqlValues.ToEnum<MessageRole>(role), content)
            : new(SqlValues.ToEnum<MessageRole>(role), content, Read(toolCalls), toolCallId)) with
        {
            Images = images is null ? null : [.. ImagesJson.Read(images).Select(Application.Common.Models.TurnImage.Kept)],
        };

    private sealed record Stored(string Id, string Name, string Arguments);
}
