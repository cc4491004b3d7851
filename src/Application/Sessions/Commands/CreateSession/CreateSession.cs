using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;

namespace MeatLizard.Application.Sessions.Commands;

public sealed record CreateSession(
    string? Title = null, string? Model = null, string? SystemPrompt = null, double? Temperature = null,
    double? TopP = null, int? MaxTokens = null) : IRequest<SessionDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.ChatCreation];
}

public sealed class CreateSessionHandler(UserAccess access, IChatSessionRepository sessions, IClock clock)
    : IRequestHandler<CreateSession, SessionDto>
{
    public async Task<SessionDto> Handle(CreateSession request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var session = ChatSession.Start(
            user,
            request.Title is null ? null : SessionTitle.From(request.Title),
            ModelName.FromOptional(request.Model),
            SystemPrompt.FromOptional(request.SystemPrompt),
            SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens),
            clock.UtcNow);
        await sessions.AddAsync(session, cancellationToken);
        return session.ToDto();
    }
}
