using FluentValidation;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>A user after an admin's change; <paramref name="Changed"/> false when it was so already.</summary>
/// <param name="Status">active, banned or awaitingApproval.</param>
public sealed record AdminUserChangedDto(Guid Id, string Username, string Role, string Status, bool Changed)
{
    public static AdminUserChangedDto Of(Domain.Users.User user, bool changed) => new(user.Id.Value, user.Username.Value,
        user.Role.ToString().ToLowerInvariant(), Queries.AdminUserStatus.Name(user.Status), changed);
}

/// <summary>An admin command about one user, named by id or username.</summary>
public interface IUserCommand
{
    string User { get; }
}

/// <summary>Checks the user named by an admin command (an id or a username).</summary>
public abstract class UserCommandValidator<TCommand> : AbstractValidator<TCommand>
    where TCommand : IUserCommand
{
    protected UserCommandValidator() =>
        RuleFor(c => c.User).Must(UsernameRule.IsIdOrName).OverridePropertyName("user").WithMessage(UsernameRule.IdOrNameMessage);
}

public sealed class PromoteUserValidator : UserCommandValidator<PromoteUser>;

public sealed class DemoteUserValidator : UserCommandValidator<DemoteUser>;

public sealed class ApproveUserValidator : UserCommandValidator<ApproveUser>;

public sealed class RejectUserValidator : UserCommandValidator<RejectUser>;
