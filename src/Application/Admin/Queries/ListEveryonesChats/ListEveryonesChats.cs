using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// The platform's newest chats, everyone's or one user's (by username): an admin's view across users, with their owners —
/// not a twin of a user's own list (<see cref="Chats.Queries.ListChats"/>), which pages through the caller's chats.
/// </summary>
public sealed record ListEveryonesChats(AdminActor Actor, string? Username) : AdminCommand<IReadOnlyList<AdminSessionDto>>(Actor)
{
    public const int Max = 20;

    public override string AuditName => "sessions";

    public override string? AuditArguments => Username is null ? null : $"user={Username}";
}

public sealed class ListEveryonesChatsHandler(IUserRepository users, IAdminReadModel reads)
    : IRequestHandler<ListEveryonesChats, IReadOnlyList<AdminSessionDto>>
{
    public async Task<IReadOnlyList<AdminSessionDto>> Handle(ListEveryonesChats request, CancellationToken cancellationToken)
    {
        Domain.Common.UserId? owner = null;
        if (request.Username is not null)
        {
            var user = await users.GetByUsernameAsync(request.Username, cancellationToken)
                       ?? throw NotFoundException.User(request.Username);
            owner = user.Id;
        }

        return await reads.ListSessionsAsync(owner, ListEveryonesChats.Max, cancellationToken);
    }
}
