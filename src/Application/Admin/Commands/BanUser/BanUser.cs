using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Bans a user, named by username (Discord) or id (the web console): from then on they can do nothing on the platform.</summary>
public sealed record BanUser(AdminActor Actor, string Username) : AdminCommand<UserStatusChangedDto>(Actor)
{
    /// <summary>Limited per admin like the other changes of stored records (a web admin; a Discord member has no bucket).</summary>
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => "ban";

    public override string? AuditArguments => $"user={Username}";
}

public sealed class BanUserHandler(IUserRepository users) : IRequestHandler<BanUser, UserStatusChangedDto>
{
    public async Task<UserStatusChangedDto> Handle(BanUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.Username, cancellationToken);
        var changed = user.Ban();
        if (changed)
        {
            await users.UpdateAsync(user, cancellationToken);
        }

        return new UserStatusChangedDto(user.Id.Value, user.Username.Value, user.IsBanned, changed);
    }
}
