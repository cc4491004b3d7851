using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Makes an admin an ordinary user again; never the last admin.</summary>
public sealed record DemoteUser(AdminActor Actor, string User) : AdminCommand<AdminUserChangedDto>(Actor), IUserCommand
{
    public override string AuditName => "demote";

    public override string? AuditArguments => $"user={User}";
}

public sealed class DemoteUserHandler(IUserRepository users, IUnitOfWork unitOfWork)
    : IRequestHandler<DemoteUser, AdminUserChangedDto>
{
    /// <remarks>Counted and changed in one transaction, so two admins demoting each other at once leave one.</remarks>
    public Task<AdminUserChangedDto> Handle(DemoteUser request, CancellationToken cancellationToken) =>
        unitOfWork.InTransactionAsync(async ct =>
        {
            var user = await UsernameRule.FindByIdOrNameAsync(users, request.User, ct);
            var changed = user.DemoteFromAdmin(await users.CountAdminsAsync(ct));
            if (changed)
            {
                await users.UpdateAsync(user, ct);
            }

            return AdminUserChangedDto.Of(user, changed);
        }, cancellationToken);
}
