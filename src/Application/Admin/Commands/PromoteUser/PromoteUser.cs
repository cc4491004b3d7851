using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Makes a user an admin.</summary>
public sealed record PromoteUser(AdminActor Actor, string User) : AdminCommand<AdminUserChangedDto>(Actor), IUserCommand
{
    public override string AuditName => "promote";

    public override string? AuditArguments => $"user={User}";
}

public sealed class PromoteUserHandler(IUserRepository users) : IRequestHandler<PromoteUser, AdminUserChangedDto>
{
    public async Task<AdminUserChangedDto> Handle(PromoteUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.User, cancellationToken);
        var changed = !user.IsAdmin;
        if (changed)
        {
            user.EnsureCanAct(); // a banned account or one waiting for approval is dealt with first
            user.PromoteToAdmin();
            await users.UpdateAsync(user, cancellationToken);
        }

        return AdminUserChangedDto.Of(user, changed);
    }
}
