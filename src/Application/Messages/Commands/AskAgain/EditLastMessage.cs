using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>Replaces the last user message (and what answered it) with new text, and requests a new answer.</summary>
public sealed record EditLastMessage(Guid SessionId, string? Content) : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    public bool OnlySuccessCounts => true;
}
