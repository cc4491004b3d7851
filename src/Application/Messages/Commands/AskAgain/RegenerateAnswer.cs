using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>Replaces the last answer: the answers after the last user message go, and a new one is requested.</summary>
public sealed record RegenerateAnswer(Guid SessionId) : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    public bool OnlySuccessCounts => true;
}
