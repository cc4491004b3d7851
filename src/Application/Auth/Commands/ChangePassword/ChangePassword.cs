using FluentValidation;
using FluentValidation.Results;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>
/// Changes the caller's password. Every session of the user ends (whoever knew the old password may hold one), and so
/// does every API key unless <paramref name="KeepApiKeys"/> (whoever held the account may have made one), and every
/// Discord or Telegram account linked to it unless <paramref name="KeepLinkedAccounts"/> (they may have linked their
/// own); the answer is
/// the user with the new stamp, so the host signs the caller in again. Checking the current password costs a PBKDF2
/// hash, as a log-in does: it shares the log-in attempts' bucket per client IP, so a stolen session cannot guess the
/// password (or burn CPU) at will.
/// </summary>
public sealed record ChangePassword(
    string? CurrentPassword, string? NewPassword, bool KeepApiKeys = false, bool KeepLinkedAccounts = false)
    : IRequest<UserDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.LogIn];
}

public sealed class ChangePasswordHandler(
    UserAccess access, StoredAccounts accounts, IApiKeyRepository keys, Channels.LinkedAccounts linked,
    IPasswordHasher hasher, IClock clock)
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
        var user = await accounts.ChangeAsync(caller.Id, async (stored, ct) =>
        {
            stored.ChangePasswordHash(newHash);
            if (!request.KeepApiKeys)
            {
                await keys.RevokeAllAsync(stored.Id, clock.UtcNow, ct);
            }

            if (!request.KeepLinkedAccounts)
            {
                await linked.UnlinkAllAsync(stored.Id, ct);
            }
        }, cancellationToken);
        return user.ToDto();
    }
}
