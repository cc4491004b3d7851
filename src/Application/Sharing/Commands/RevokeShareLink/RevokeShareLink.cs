using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Sharing.Commands;

/// <summary>Ends one of the caller's share links: its page is a 404 from now on, and its copy is deleted.</summary>
public sealed record RevokeShareLink(Guid Id) : IRequest<MediatR.Unit>;

public sealed class RevokeShareLinkHandler(UserAccess access, IShareLinkStore links, IClock clock)
    : IRequestHandler<RevokeShareLink, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(RevokeShareLink request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        if (!await links.RevokeAsync(user.Id, request.Id, clock.UtcNow, cancellationToken))
        {
            throw NotFoundException.ShareLink();
        }

        return MediatR.Unit.Value;
    }
}
