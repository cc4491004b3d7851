using System.Security.Cryptography;
using System.Text;
using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>Checks credentials; the host turns the user into a token and a cookie.</summary>
public sealed record LogIn(string? Username, string? Password) : IRequest<UserDto>;

/// <remarks>
/// Throttled before the password is hashed (each hash is deliberately expensive): every attempt takes a token per
/// client IP, and a token of two failure buckets per client IP and username, a short and a long one, so a guesser's
/// wait grows from none to seconds to a minute. The failure tokens are given back when the password is right, so only
/// failures count; and because they are keyed by the address too, someone guessing one user's password elsewhere never
/// locks that user out.
/// </remarks>
public sealed class LogInHandler(
    IUserRepository users, IPasswordHasher hasher, IRateLimiter limiter, ICurrentUser currentUser,
    PlatformMetrics metrics)
    : IRequestHandler<LogIn, UserDto>
{
    // Verified against when the user does not exist, so an unknown user and a wrong password take the same time.
    private static string? s_decoyHash;

    private static readonly RateLimitScope[] FailureScopes =
        [RateLimitScope.LogInFailure, RateLimitScope.LogInSustainedFailure];

    public async Task<UserDto> Handle(LogIn request, CancellationToken cancellationToken)
    {
        var ip = currentUser.ClientIp;
        var attempt = ip is null ? null : AttemptKey(ip, request.Username!);
        var taken = new List<RateLimitScope>(FailureScopes.Length);
        if (ip is not null)
        {
            await EnsureAllowedAsync(RateLimitScope.LogIn, ip, cancellationToken);
            foreach (var scope in FailureScopes)
            {
                try
                {
                    await EnsureAllowedAsync(scope, attempt!, cancellationToken);
                }
                catch (RateLimitedException)
                {
                    await GiveBackAsync(taken, attempt!);
                    throw;
                }

                taken.Add(scope);
            }
        }

        var user = await VerifyAsync(request, cancellationToken);
        if (user is null)
        {
            throw new UnauthenticatedException("Wrong username or password.");
        }

        await GiveBackAsync(taken, attempt);
        user.EnsureCanAct();
        return user.ToDto();
    }

    /// <summary>The user when the password is theirs, else null.</summary>
    private async Task<Domain.Users.User?> VerifyAsync(LogIn request, CancellationToken cancellationToken)
    {
        // A name no account can have (too long, or holding a control character: PostgreSQL takes no NUL even to compare)
        // is not looked up; it fails like any unknown name, after the same decoy check.
        var user = request.Username!.Length <= Domain.Common.Username.MaxLength && Domain.Common.StorableText.IsStorable(request.Username)
            ? await users.GetByUsernameAsync(request.Username, cancellationToken)
            : null;
        s_decoyHash ??= hasher.Hash(Guid.NewGuid().ToString("N"));
        var valid = hasher.Verify(user?.PasswordHash ?? s_decoyHash, request.Password!);
        return valid ? user : null;
    }

    /// <summary>
    /// The address and the username as typed, case folded and hashed: usernames compare without case, and a long
    /// made-up one must not become a long key.
    /// </summary>
    private static string AttemptKey(string ip, string username) =>
        ip + "|" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(username.ToUpperInvariant())))[..32];

    private async Task EnsureAllowedAsync(RateLimitScope scope, string key, CancellationToken cancellationToken)
    {
        var decision = await limiter.TryAcquireAsync(scope, key, cancellationToken);
        if (!decision.Allowed)
        {
            metrics.Refused(scope.ToString().ToLowerInvariant());
            throw new RateLimitedException(decision.RetryAfter, scope.ToString().ToLowerInvariant());
        }
    }

    private async Task GiveBackAsync(IEnumerable<RateLimitScope> taken, string? key)
    {
        foreach (var scope in taken)
        {
            await limiter.GiveBackAsync(scope, key!, CancellationToken.None);
        }
    }
}
