using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Auth.Commands;

/// <summary>The user a presented API key belongs to, and the key's id.</summary>
public sealed record AuthenticatedApiKey(UserDto User, Guid KeyId);

/// <summary>Resolves a presented key to its user; null when the key is unknown, revoked or wrong.</summary>
public sealed record AuthenticateApiKey(string Key) : IRequest<AuthenticatedApiKey?>;

public sealed class AuthenticateApiKeyHandler(
    IApiKeyRepository keys, IUserRepository users, IClock clock, RefusedApiKeys refused)
    : IRequestHandler<AuthenticateApiKey, AuthenticatedApiKey?>
{
    private static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<AuthenticatedApiKey?> Handle(AuthenticateApiKey request, CancellationToken cancellationToken)
    {
        var prefix = ApiKeyFormat.PrefixOf(request.Key);
        if (prefix is null || refused.WasRefused(request.Key, clock.UtcNow))
        {
            return null;
        }

        var key = await keys.GetByPrefixAsync(prefix, cancellationToken);
        if (key is null || key.IsRevoked || !ApiKeyFormat.Matches(request.Key, key.SecretHash))
        {
            refused.Refuse(request.Key, clock.UtcNow);
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

        return new AuthenticatedApiKey(user.ToDto(), key.Id.Value);
    }
}

/// <summary>
/// Keys refused lately (unknown, wrong or revoked), by their hash, for <see cref="For"/>: a client sending the same
/// bad key again and again (a script with a revoked key, a flood) costs no database read each time. A key that is
/// refused stays refused — keys are random, and a revoked one never comes back — so nothing wrong is remembered. At
/// most <see cref="MaxKept"/> are kept (the oldest go first).
/// </summary>
public sealed class RefusedApiKeys
{
    public static readonly TimeSpan For = TimeSpan.FromMinutes(1);

    public const int MaxKept = 10_000;

    private readonly CountedMap<string, DateTimeOffset> _until = new(StringComparer.Ordinal);

    public bool WasRefused(string key, DateTimeOffset now) =>
        _until.TryGetValue(ApiKeyFormat.Hash(key), out var until) && now < until;

    public void Refuse(string key, DateTimeOffset now)
    {
        if (_until.Count >= MaxKept)
        {
            foreach (var (hash, _) in _until.OrderBy(e => e.Value).Take(MaxKept / 2).ToList())
            {
                _until.TryRemove(hash, out _);
            }
        }

        _until[ApiKeyFormat.Hash(key)] = now + For;
    }
}
