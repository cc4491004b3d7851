using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;

namespace MeatLizard.Application.Sessions.Commands;

/// <summary>Closes the chat; a generation still running is cancelled first.</summary>
public sealed record CloseSession(Guid Id) : IRequest<MediatR.Unit>;

public sealed class CloseSessionHandler(
    UserAccess access, IChatSessionRepository sessions, RelayCancellation cancellation, IClock clock)
    : IRequestHandler<CloseSession, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(CloseSession request, CancellationToken cancellationToken)
    {
        var (user, session) = await access.RequireSessionAsync(request.Id, cancellationToken);
        await cancellation.CancelUnfinishedAsync(session.Id, cancellationToken);
        session.Close(user, clock.UtcNow);
        await sessions.UpdateAsync(session, cancellationToken);
        return MediatR.Unit.Value;
    }
}
