using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The accounts (password users), or only those waiting for approval.</summary>
public sealed record ListUsers(AdminActor Actor, bool AwaitingApprovalOnly) : AdminCommand<IReadOnlyList<AdminUserDto>>(Actor)
{
    public const int Max = 500;

    public override string AuditName => "users";

    public override string? AuditArguments => AwaitingApprovalOnly ? "awaiting=true" : null;
}

public sealed class ListUsersHandler(IAdminReadModel reads) : IRequestHandler<ListUsers, IReadOnlyList<AdminUserDto>>
{
    public Task<IReadOnlyList<AdminUserDto>> Handle(ListUsers request, CancellationToken cancellationToken) =>
        reads.ListUsersAsync(request.AwaitingApprovalOnly, ListUsers.Max, cancellationToken);
}

/// <summary>A user's status as the API writes it.</summary>
public static class AdminUserStatus
{
    public static string Name(UserStatus status) => status switch
    {
        UserStatus.AwaitingApproval => "awaitingApproval",
        _ => status.ToString().ToLowerInvariant(),
    };
}
