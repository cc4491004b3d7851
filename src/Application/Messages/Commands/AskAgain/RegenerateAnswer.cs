using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Answers the current path's last question again: what answered it leaves the path and stays as an earlier version
/// beside the new answer, which is requested.
/// </summary>
public sealed record RegenerateAnswer(Guid ChatId) : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    public bool OnlySuccessCounts => true;
}
