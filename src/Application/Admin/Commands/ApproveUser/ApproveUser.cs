using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Lets in an account that waits for approval: it can sign in from now on.</summary>
public sealed record ApproveUser(AdminActor Actor, string User) : AdminCommand<AdminUserChangedDto>(Actor), IUserCommand
{
    public override string AuditName => "approve";

    public override string? AuditArguments => $"user={User}";
}

public sealed class ApproveUserHandler(IUserRepository users) : IRequestHandler<ApproveUser, AdminUserChangedDto>
{
    public async Task<AdminUserChangedDto> Handle(ApproveUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.User, cancellationToken);
        var changed = user.Approve();
        if (changed)
        {
            await users.UpdateAsync(user, cancellationToken);
        }

        return AdminUserChangedDto.Of(user, changed);
    }
}
