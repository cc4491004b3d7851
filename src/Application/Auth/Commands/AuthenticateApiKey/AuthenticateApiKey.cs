using AutoMapper;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>The user a presented API key belongs to, and the key's id.</summary>
public sealed record AuthenticatedApiKey(UserDto User, Guid KeyId);

/// <summary>Resolves a presented key to its user; null when the key is unknown, revoked or wrong.</summary>
public sealed record AuthenticateApiKey(string Key) : IRequest<AuthenticatedApiKey?>;

public sealed class AuthenticateApiKeyHandler(IApiKeyRepository keys, IUserRepository users, IClock clock, IMapper mapper)
    : IRequestHandler<AuthenticateApiKey, AuthenticatedApiKey?>
{
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<AuthenticatedApiKey?> Handle(AuthenticateApiKey request, CancellationToken cancellationToken)
    {
        var prefix = ApiKeyFormat.PrefixOf(request.Key);
        if (prefix is null)
        {
            return null;
        }

        var key = await keys.GetByPrefixAsync(prefix, cancellationToken);
        if (key is null || key.IsRevoked || !ApiKeyFormat.Matches(request.Key, key.SecretHash))
        {
            return null;
        }

        var user = await users.GetAsync(key.OwnerId, cancellationToken);
        if (user is null)
        {
            return null;
        }

        // Writing on every request would make each call a write; a minute's precision is enough to tell keys in use.
        // The write touches only the last use: the key as read here may have been revoked since, and writing it back
        // whole would undo that.
        var now = clock.UtcNow;
        if (key.LastUsedAt is null || now - key.LastUsedAt > LastUsedResolution)
        {
            await keys.MarkUsedAsync(key.Id, now, cancellationToken);
        }

        return new AuthenticatedApiKey(mapper.Map<UserDto>(user), key.Id.Value);
    }
}
