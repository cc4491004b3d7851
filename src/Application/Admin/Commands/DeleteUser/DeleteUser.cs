using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>
/// Deletes a user and all of their data (<see cref="AccountDeletion"/>). Never the last admin, and never the admin
/// who asks: an admin deletes their own account from the account dialog, with their password.
/// </summary>
public sealed record DeleteUser(AdminActor Actor, string User)
    : AdminCommand<AdminUserChangedDto>(Actor), IUserCommand
{
    public override string AuditName => "delete user";

    public override string? AuditArguments => $"user={User}";

    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;
}

public sealed class DeleteUserHandler(IUserRepository users, AccountDeletion deletion)
    : IRequestHandler<DeleteUser, AdminUserChangedDto>
{
    public async Task<AdminUserChangedDto> Handle(DeleteUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.User, cancellationToken);
        if (request.Actor.Id == AdminActors.IdOf(user))
        {
            throw new DomainException("You cannot delete your own account here: use Delete my account, with your password.",
                DomainErrorKind.Conflict, "user");
        }

        await deletion.DeleteAsync(user, cancellationToken);
        return AdminUserChangedDto.Of(user, true);
    }
}

public sealed class DeleteUserValidator : UserCommandValidator<DeleteUser>;
