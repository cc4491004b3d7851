using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Asks a question of the chat's current path again in new words: <see cref="MessageId"/> (the path's last question
/// when null) gets a new version beside it, what followed the old one stays as the other branch, and an answer to the
/// new one is requested. The new version keeps the old one's images, as editing a question's words does in ChatGPT;
/// <see cref="Images"/> (<c>data:</c> URLs, read and refused as a send's are) replaces them, an empty list drops them.
/// </summary>
public sealed record EditMessage(Guid ChatId, Guid? MessageId, string? Content, IReadOnlyList<string?>? Images = null)
    : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    public bool OnlySuccessCounts => true;
}
