using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Auth;

/// <summary>
/// Whether a credential presented earlier still stands: asked on every request and, for open streams, every few
/// seconds. The user read is answered by the user cache, which every process drops on a write anywhere, so a ban, a
/// password change or a logout at one API instance is seen at the others within one check.
/// </summary>
public sealed class SignInCheck(IUserRepository users, IApiKeyRepository keys)
{
    /// <summary>A cookie or access token: the user's stamp as issued, and the session it belongs to.</summary>
    public async Task<bool> IsCurrentAsync(Guid userId, string? securityStamp, string? sessionId,
        CancellationToken cancellationToken)
    {
        var user = await users.GetAsync(new UserId(userId), cancellationToken);
        return user is not null && user.AcceptsSignIn(securityStamp, sessionId);
    }

    /// <summary>An API key: still there, not revoked, its owner not banned.</summary>
    public async Task<bool> IsApiKeyCurrentAsync(Guid userId, Guid keyId, CancellationToken cancellationToken)
    {
        var key = await keys.GetAsync(new ApiKeyId(keyId), cancellationToken);
        if (key is null || key.IsRevoked || key.OwnerId.Value != userId)
        {
            return false;
        }

        var user = await users.GetAsync(key.OwnerId, cancellationToken);
        return user is not null && !user.IsBanned;
    }
}
