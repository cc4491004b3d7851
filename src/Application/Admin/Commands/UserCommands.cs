using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>What a ban or unban did; <see cref="Changed"/> is false when the user already was in that state.</summary>
public sealed record UserStatusChangedDto(Guid UserId, string Username, bool Banned, bool Changed);

/// <summary>Bans a user by username: from then on they can do nothing on the platform.</summary>
public sealed record BanUser(AdminActor Actor, string Username) : AdminCommand<UserStatusChangedDto>(Actor)
{
    public override string AuditName => "ban";

    public override string? AuditArguments => $"user={Username}";
}

/// <summary>Lifts a ban.</summary>
public sealed record UnbanUser(AdminActor Actor, string Username) : AdminCommand<UserStatusChangedDto>(Actor)
{
    public override string AuditName => "unban";

    public override string? AuditArguments => $"user={Username}";
}

public sealed class BanUserValidator : AbstractValidator<BanUser>
{
    public BanUserValidator() => RuleFor(c => c.Username).Must(Username.IsValid).WithMessage(UsernameRule.Message);
}

public sealed class UnbanUserValidator : AbstractValidator<UnbanUser>
{
    public UnbanUserValidator() => RuleFor(c => c.Username).Must(Username.IsValid).WithMessage(UsernameRule.Message);
}

internal static class UsernameRule
{
    public const string Message = "Give a MeatLizard username (3–32 letters, digits, '_', '.' or '-').";

    public static async Task<Domain.Users.User> FindAsync(
        IUserRepository users, string username, CancellationToken cancellationToken) =>
        await users.GetByUsernameAsync(username, cancellationToken)
        ?? throw NotFoundException.User(username);
}

public sealed class BanUserHandler(IUserRepository users) : IRequestHandler<BanUser, UserStatusChangedDto>
{
    public async Task<UserStatusChangedDto> Handle(BanUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindAsync(users, request.Username, cancellationToken);
        var changed = user.Ban();
        if (changed)
        {
            await users.UpdateAsync(user, cancellationToken);
        }

        return new UserStatusChangedDto(user.Id.Value, user.Username.Value, user.IsBanned, changed);
    }
}

public sealed class UnbanUserHandler(IUserRepository users) : IRequestHandler<UnbanUser, UserStatusChangedDto>
{
    public async Task<UserStatusChangedDto> Handle(UnbanUser request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindAsync(users, request.Username, cancellationToken);
        var changed = user.Unban();
        if (changed)
        {
            await users.UpdateAsync(user, cancellationToken);
        }

        return new UserStatusChangedDto(user.Id.Value, user.Username.Value, user.IsBanned, changed);
    }
}
