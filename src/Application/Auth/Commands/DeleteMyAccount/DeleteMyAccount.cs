using FluentValidation;
using FluentValidation.Results;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// Deletes the caller's account and all of its data (<see cref="AccountDeletion"/>), confirmed with the account's
/// password and only from a password sign-in (an API key cannot). Checking the password costs a PBKDF2 hash, as a
/// log-in does: it shares the log-in attempts' bucket per client IP. The last admin cannot go.
/// </summary>
public sealed record DeleteMyAccount(string? Password) : IRequest<MediatR.Unit>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.LogIn];
}

public sealed class DeleteMyAccountHandler(UserAccess access, IPasswordHasher hasher, AccountDeletion deletion)
    : IRequestHandler<DeleteMyAccount, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(DeleteMyAccount request, CancellationToken cancellationToken)
    {
        var caller = await access.RequirePasswordSignInAsync("delete the account", cancellationToken);
        if (!hasher.Verify(caller.PasswordHash, request.Password!))
        {
            throw new ValidationException([new ValidationFailure("password", "The password is wrong.")]);
        }

        await deletion.DeleteAsync(caller, cancellationToken);
        return MediatR.Unit.Value;
    }
}

public sealed class DeleteMyAccountValidator : AbstractValidator<DeleteMyAccount>
{
    public DeleteMyAccountValidator() =>
        RuleFor(x => x.Password).NotEmpty().OverridePropertyName("password")
            .WithMessage("Type your password to confirm.");
}
