using AutoMapper;
using FluentValidation;
using FluentValidation.Results;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// Ends the sign-in session the caller is using (its cookie and the access token issued with it), in every process;
/// the user's other sessions stay. <paramref name="CredentialsValidUntil"/> is when they would have expired anyway.
/// </summary>
public sealed record EndSignInSession(string SessionId, DateTimeOffset CredentialsValidUntil) : IRequest<MediatR.Unit>;

public sealed class EndSignInSessionHandler(ICurrentUser currentUser, IUserRepository users, IClock clock)
    : IRequestHandler<EndSignInSession, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(EndSignInSession request, CancellationToken cancellationToken)
    {
        // A banned user may still sign out: no EnsureCanAct here.
        var id = currentUser.Id ?? throw new UnauthenticatedException("Sign in first.");
        await users.EndSessionAsync(id, request.SessionId, request.CredentialsValidUntil, clock.UtcNow, cancellationToken);
        return MediatR.Unit.Value;
    }
}

/// <summary>
/// Changes the caller's password. Every session of the user ends (whoever knew the old password may hold one); the
/// answer is the user with the new stamp, so the host signs the caller in again.
/// </summary>
/// <summary>
/// Checking the current password costs a PBKDF2 hash, as a log-in does: it shares the log-in attempts' bucket per
/// client IP, so a stolen session cannot guess the password (or burn CPU) at will.
/// </summary>
public sealed record ChangePassword(string? CurrentPassword, string? NewPassword) : IRequest<UserDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.LogIn];
}

public sealed class ChangePasswordValidator : AbstractValidator<ChangePassword>
{
    public ChangePasswordValidator()
    {
        RuleFor(x => x.CurrentPassword).NotEmpty().OverridePropertyName("currentPassword")
            .WithMessage("The current password is required.");
        RuleFor(x => x.NewPassword).NotEmpty()
            .Length(RegisterUserValidator.MinPasswordLength, RegisterUserValidator.MaxPasswordLength)
            .OverridePropertyName("newPassword")
            .WithMessage($"A password is {RegisterUserValidator.MinPasswordLength}–{RegisterUserValidator.MaxPasswordLength} characters.");
    }
}

public sealed class ChangePasswordHandler(
    UserAccess access, IUserRepository users, IPasswordHasher hasher, IUnitOfWork unitOfWork, IMapper mapper)
    : IRequestHandler<ChangePassword, UserDto>
{
    public async Task<UserDto> Handle(ChangePassword request, CancellationToken cancellationToken)
    {
        var caller = await access.RequireActiveUserAsync(cancellationToken);
        if (!hasher.Verify(caller.PasswordHash, request.CurrentPassword!))
        {
            throw new ValidationException([new ValidationFailure("currentPassword", "The current password is wrong.")]);
        }

        var newHash = hasher.Hash(request.NewPassword!);
        // Read and written in one transaction (the read bypasses the user cache), so the stored row is what changes.
        var user = await unitOfWork.InTransactionAsync(async ct =>
        {
            var stored = await users.GetAsync(caller.Id, ct)
                         ?? throw new UnauthenticatedException("This account no longer exists.");
            stored.ChangePasswordHash(newHash);
            await users.UpdateAsync(stored, ct);
            return stored;
        }, cancellationToken);
        return mapper.Map<UserDto>(user);
    }
}
