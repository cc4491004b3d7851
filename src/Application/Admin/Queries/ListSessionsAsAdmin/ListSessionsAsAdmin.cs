using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The newest chats, everyone's or one user's (by username).</summary>
public sealed record ListSessionsAsAdmin(AdminActor Actor, string? Username) : AdminCommand<IReadOnlyList<AdminSessionDto>>(Actor)
{
    public const int Max = 20;

    public override string AuditName => "sessions";

    public override string? AuditArguments => Username is null ? null : $"user={Username}";
}

public sealed class ListSessionsAsAdminHandler(IUserRepository users, IAdminReadModel reads)
    : IRequestHandler<ListSessionsAsAdmin, IReadOnlyList<AdminSessionDto>>
{
    public async Task<IReadOnlyList<AdminSessionDto>> Handle(ListSessionsAsAdmin request, CancellationToken cancellationToken)
    {
        Domain.Common.UserId? owner = null;
        if (request.Username is not null)
        {
            var user = await users.GetByUsernameAsync(request.Username, cancellationToken)
                       ?? throw NotFoundException.User(request.Username);
            owner = user.Id;
        }

        return await reads.ListSessionsAsync(owner, ListSessionsAsAdmin.Max, cancellationToken);
    }
}
