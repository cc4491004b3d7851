using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Common.Mapping;

/// <summary>
/// The one place each DTO is built from its aggregate; the read model's rows come through here too. By hand, so a
/// renamed field fails the build rather than a request. Enums go out lower-case, as the API documents them.
/// </summary>
public static class DomainToDto
{
    public static MessageDto ToDto(this Message message) => new(
        message.Id.Value,
        message.ChatId.Value,
        MessageRoles.Name(message.Role),
        message.Content,
        Lower(message.Source),
        message.CreatedAt,
        message.Tokens is { } tokens ? new TokensDto(tokens.Prompt, tokens.Completion, tokens.Total) : null,
        message.RequestId?.Value,
        message.Model,
        message.Finish is { } finish ? FinishName(finish) : null,
        message.ToolCalls.ToDtos(),
        message.ToolCallId,
        message.ParentId?.Value)
    {
        Cached = message.Cached ? true : null,
        Images = message.Images.Count == 0
            ? null
            : [.. message.Images.Select(i => i.ToDto())],
    };

    /// <summary>OpenAI's names: <c>stop</c>, <c>length</c>, <c>tool_calls</c>.</summary>
    public static string FinishName(FinishReason finish) =>
        finish == FinishReason.ToolCalls ? "tool_calls" : Lower(finish);

    public static ToolCallDto ToDto(this ToolCall call) => new(call.Id, call.Name, call.Arguments);

    /// <summary>An image as a message shows it: named by the last part of its key.</summary>
    public static ImageDto ToDto(this MessageImage image) =>
        new(Messages.ChatImages.NameOf(image.Key), image.MediaType, image.Width, image.Height, image.Bytes)
        {
            Sha256 = image.Sha256,
        };

    /// <summary>The calls as their DTOs; null when there are none.</summary>
    public static IReadOnlyList<ToolCallDto>? ToDtos(this IReadOnlyList<ToolCall>? calls) =>
        calls is not { Count: > 0 } ? null : [.. calls.Select(ToDto)];

    /// <summary>The calls a DTO list (from a model host, over the relay) names, each checked.</summary>
    public static IReadOnlyList<ToolCall> ToToolCalls(this IReadOnlyList<ToolCallDto>? calls) =>
        calls is not { Count: > 0 } ? [] : ToolCall.Several([.. calls.Select(c => ToolCall.Create(c.Id, c.Name, c.Arguments))]);

    public static SessionDto ToDto(this Chat chat) => new(
        chat.Id.Value,
        chat.Title.Value,
        Lower(chat.Status),
        chat.Model?.Value,
        chat.SystemPrompt?.Value,
        chat.Sampling.Temperature,
        chat.Sampling.TopP,
        chat.Sampling.MaxTokens,
        chat.CreatedAt,
        chat.UpdatedAt,
        chat.ClosedAt);

    public static UserDto ToDto(this User user) => new(user.Id.Value, user.Username.Value, Lower(user.Role))
    {
        SecurityStamp = user.SecurityStamp,
        AwaitingApproval = user.IsAwaitingApproval,
    };

    private static string Lower<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}
