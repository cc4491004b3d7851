using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Lifts a ban; the user named by username (Discord) or id (the web console).</summary>
public sealed record UnbanUser(AdminActor Actor, string Username) : AdminCommand<UserStatusChangedDto>(Actor)
{
    /// <summary>Limited per admin like the other changes of stored records (a web admin; a Discord member has no bucket).</summary>
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => "unban";

    public override string? AuditArguments => $"user={Username}";
}

public sealed class UnbanUserHandler(IUserRepository users) : IRequestHandler<UnbanUser, UserStatusChangedDto>
{
    public async Task<UserStatusChangedDto> Handle(UnbanUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.Username, cancellationToken);
        var changed = user.Unban();
        if (changed)
        {
            await users.UpdateAsync(user, cancellationToken);
        }

        return new UserStatusChangedDto(user.Id.Value, user.Username.Value, user.IsBanned, changed);
    }
}
