using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Turns away an account that waits for approval: it is deleted, and its name is free again.</summary>
public sealed record RejectUser(AdminActor Actor, string User) : AdminCommand<AdminUserChangedDto>(Actor), IUserCommand
{
    public override string AuditName => "reject";

    public override string? AuditArguments => $"user={User}";
}

public sealed class RejectUserHandler(IUserRepository users) : IRequestHandler<RejectUser, AdminUserChangedDto>
{
    public async Task<AdminUserChangedDto> Handle(RejectUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.User, cancellationToken);
        if (!user.IsAwaitingApproval || !await users.DeleteAwaitingApprovalAsync(user.Id, cancellationToken))
        {
            throw new DomainException("Only an account waiting for approval can be rejected; ban this one instead.",
                DomainErrorKind.Conflict, "user");
        }

        return AdminUserChangedDto.Of(user, true);
    }
}
