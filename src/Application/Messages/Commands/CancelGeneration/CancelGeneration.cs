using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Messages.Commands;

public sealed record CancelResult(bool Cancelled, Guid? RequestId);

/// <summary>Stops the running generation of a session; what was already produced is kept as the answer.</summary>
public sealed record CancelGeneration(Guid ChatId) : IRequest<CancelResult>;

public sealed class CancelGenerationHandler(UserAccess access, IRelayControl relay)
    : IRequestHandler<CancelGeneration, CancelResult>
{
    public async Task<CancelResult> Handle(CancelGeneration request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        var cancelled = await relay.CancelUnfinishedAsync(chat.Id, cancellationToken);
        return new CancelResult(cancelled is not null, cancelled?.Value);
    }
}
