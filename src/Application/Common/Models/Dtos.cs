using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Common.Models;

public sealed record TokensDto(int Prompt, int Completion, int Total);

/// <summary>A message as clients see it. Role: user|assistant|system; source: user|model|fallback|notice.</summary>
/// <summary>A message; <paramref name="Model"/> names the model that wrote an answer of the model's (null otherwise).</summary>
public sealed record MessageDto(
    Guid Id, Guid SessionId, string Role, string Content, string Source, DateTimeOffset CreatedAt, TokensDto? Tokens,
    Guid? RequestId, string? Model = null, string? FinishReason = null);

public sealed record SessionDto(
    Guid Id, string Title, string Status, string? Model, string? SystemPrompt, double? Temperature, double? TopP,
    int? MaxTokens, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ClosedAt);

public sealed record ApiKeyDto(Guid Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

public sealed record UserDto(Guid Id, string Username, string Role)
{
    /// <summary>The user's security stamp, for the host to put in the credentials it issues; never shown to anyone.</summary>
    public string SecurityStamp { get; init; } = "";

    /// <summary>The account waits for an admin's approval before it can sign in.</summary>
    public bool AwaitingApproval { get; init; }
}

/// <summary>One turn of the conversation as the model sees it.</summary>
public sealed record ChatTurn(MessageRole Role, string Content);
