using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Sessions.Queries;

public sealed record ListSessions : IRequest<IReadOnlyList<SessionDto>>;

public sealed class ListSessionsHandler(UserAccess access, IChatReadModel reads)
    : IRequestHandler<ListSessions, IReadOnlyList<SessionDto>>
{
    public async Task<IReadOnlyList<SessionDto>> Handle(ListSessions request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await reads.ListSessionsAsync(user.Id, cancellationToken);
    }
}
