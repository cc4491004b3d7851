using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Sessions.Queries;

/// <summary>The caller's chat list (<see cref="IChatReadModel.ListChatsAsync"/>); with <paramref name="Archived"/> their archive.</summary>
public sealed record ListSessions(bool Archived = false) : IRequest<IReadOnlyList<SessionDto>>;

public sealed class ListSessionsHandler(UserAccess access, IChatReadModel reads)
    : IRequestHandler<ListSessions, IReadOnlyList<SessionDto>>
{
    public async Task<IReadOnlyList<SessionDto>> Handle(ListSessions request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await reads.ListChatsAsync(user.Id, request.Archived, cancellationToken);
    }
}
