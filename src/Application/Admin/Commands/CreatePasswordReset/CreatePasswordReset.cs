using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>
/// Makes a one-time password reset link for an account (its owner forgot the password): shown to the admin this once,
/// to hand to the owner; it replaces any earlier one of that account. The account is named by id (the web console) or
/// by username (the server bot's <c>/password-reset</c>, whose answer only the admin sees).
/// </summary>
public sealed record CreatePasswordReset(AdminActor Actor, string User, int? ExpiresInHours)
    : AdminCommand<CreatedPasswordResetDto>(Actor)
{
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public override string AuditName => "password-reset";

    // Never the code: the audit log is read by every admin.
    public override string? AuditArguments =>
        $"user={User} hours={ExpiresInHours ?? (int)PasswordReset.DefaultLifetime.TotalHours}";
}

/// <summary>A new password reset pass with its code, shown this once (only its hash is stored).</summary>
public sealed record CreatedPasswordResetDto(string Username, string Code, DateTimeOffset ExpiresAt);

public sealed class CreatePasswordResetHandler(IUserRepository users, IPasswordResets resets, IClock clock)
    : IRequestHandler<CreatePasswordReset, CreatedPasswordResetDto>
{
    public async Task<CreatedPasswordResetDto> Handle(CreatePasswordReset request, CancellationToken cancellationToken)
    {
        var user = await UsernameRule.FindByIdOrNameAsync(users, request.User, cancellationToken);
        var code = RegistrationCodes.New();
        var reset = PasswordReset.Create(user.Id, RegistrationCodes.Hash(code), request.Actor.ToString(), clock.UtcNow,
            request.ExpiresInHours is { } hours ? TimeSpan.FromHours(hours) : PasswordReset.DefaultLifetime);
        await resets.ReplaceAsync(reset, cancellationToken);
        return new CreatedPasswordResetDto(user.Username.Value, code, reset.ExpiresAt);
    }
}

public sealed class CreatePasswordResetValidator : AbstractValidator<CreatePasswordReset>
{
    public CreatePasswordResetValidator()
    {
        RuleFor(c => c.User).Must(UsernameRule.IsIdOrName).OverridePropertyName("user").WithMessage(UsernameRule.IdOrNameMessage);
        RuleFor(c => c.ExpiresInHours).InclusiveBetween(1, (int)PasswordReset.MaxLifetime.TotalHours)
            .OverridePropertyName("expiresInHours")
            .WithMessage($"A password reset link lasts from 1 to {(int)PasswordReset.MaxLifetime.TotalHours} hours.");
    }
}
