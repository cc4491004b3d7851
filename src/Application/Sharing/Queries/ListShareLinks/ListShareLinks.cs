using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Sharing.Queries;

/// <summary>The caller's working share links, newest first; of one chat when <paramref name="ChatId"/> is given.</summary>
public sealed record ListShareLinks(Guid? ChatId) : IRequest<IReadOnlyList<ShareLinkDto>>;

public sealed class ListShareLinksHandler(UserAccess access, IShareLinkStore links)
    : IRequestHandler<ListShareLinks, IReadOnlyList<ShareLinkDto>>
{
    public async Task<IReadOnlyList<ShareLinkDto>> Handle(ListShareLinks request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await links.ListAsync(user.Id, request.ChatId is { } id ? new ChatId(id) : null, cancellationToken);
    }
}
