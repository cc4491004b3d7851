using FluentValidation;
using FluentValidation.Results;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Behaviours;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// Sets a new password with the code of an admin's password reset link, signed out: the pass is spent, and every sign-in
/// of the account ends (whoever held one may have been the reason). API keys and linked accounts stay: the owner forgot a
/// password, nobody else is known to have held the account (an admin who thinks otherwise bans it or revokes them). The
/// new password costs a PBKDF2 hash: each try takes the log-in attempts' bucket of the client's IP.
/// </summary>
public sealed record ResetPassword(string? Code, string? NewPassword) : IRequest<string>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.LogIn];
}

public sealed class ResetPasswordHandler(
    IPasswordResets resets, StoredAccounts accounts, IPasswordHasher hasher, IClock clock, IUnitOfWork unitOfWork)
    : IRequestHandler<ResetPassword, string>
{
    /// <returns>The username of the account, to sign in with.</returns>
    public async Task<string> Handle(ResetPassword request, CancellationToken cancellationToken)
    {
        var newHash = hasher.Hash(request.NewPassword!);
        var user = await unitOfWork.InTransactionAsync(async ct =>
        {
            var owner = await resets.TakeAsync(RegistrationCodes.Hash(request.Code!), clock.UtcNow, ct)
                        ?? throw new ValidationException([new ValidationFailure("code",
                            "This password reset link was used already, has expired or was replaced; ask an admin for a new one.")]);
            return await accounts.ChangeAsync(owner, (stored, _) =>
            {
                stored.ChangePasswordHash(newHash);
                return Task.CompletedTask;
            }, ct);
        }, cancellationToken);
        return user.Username.Value;
    }
}

public sealed class ResetPasswordValidator : AbstractValidator<ResetPassword>
{
    public ResetPasswordValidator()
    {
        RuleFor(x => x.Code).NotEmpty().MaximumLength(200).OverridePropertyName("code")
            .WithMessage("The code of the password reset link is required.");
        RuleFor(x => x.NewPassword).NotEmpty()
            .Length(RegisterUserValidator.MinPasswordLength, RegisterUserValidator.MaxPasswordLength)
            .OverridePropertyName("newPassword")
            .WithMessage($"A password is {RegisterUserValidator.MinPasswordLength}–{RegisterUserValidator.MaxPasswordLength} characters.");
    }
}
