using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Sessions.Queries;

public sealed record GetSession(Guid Id) : IRequest<SessionDto>;

public sealed class GetSessionHandler(UserAccess access) : IRequestHandler<GetSession, SessionDto>
{
    public async Task<SessionDto> Handle(GetSession request, CancellationToken cancellationToken)
    {
        var (_, session) = await access.RequireSessionAsync(request.Id, cancellationToken);
        return session.ToDto();
    }
}
