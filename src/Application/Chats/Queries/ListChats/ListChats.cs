using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Chats.Queries;

/// <summary>The caller's chat list (<see cref="IChatReadModel.ListChatsAsync"/>); with <paramref name="Archived"/> their archive.</summary>
public sealed record ListChats(bool Archived = false) : IRequest<IReadOnlyList<SessionDto>>;

public sealed class ListChatsHandler(UserAccess access, IChatReadModel reads)
    : IRequestHandler<ListChats, IReadOnlyList<SessionDto>>
{
    public async Task<IReadOnlyList<SessionDto>> Handle(ListChats request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await reads.ListChatsAsync(user.Id, request.Archived, cancellationToken);
    }
}
