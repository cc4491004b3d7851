using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;

namespace MeatLizard.Application.Messages.Commands;

public sealed record CancelResult(bool Cancelled, Guid? RequestId);

/// <summary>Stops the running generation of a session; what was already produced is kept as the answer.</summary>
public sealed record CancelGeneration(Guid SessionId) : IRequest<CancelResult>;

public sealed class CancelGenerationHandler(UserAccess access, RelayCancellation cancellation)
    : IRequestHandler<CancelGeneration, CancelResult>
{
    public async Task<CancelResult> Handle(CancelGeneration request, CancellationToken cancellationToken)
    {
        var (_, session) = await access.RequireSessionAsync(request.SessionId, cancellationToken);
        var cancelled = await cancellation.CancelUnfinishedAsync(session.Id, cancellationToken);
        return new CancelResult(cancelled is not null, cancelled?.Value);
    }
}
