using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Abstractions;

public interface IApiKeyRepository
{
    Task AddAsync(ApiKey key, CancellationToken cancellationToken);

    Task<ApiKey?> GetAsync(ApiKeyId id, CancellationToken cancellationToken);

    /// <summary>Finds a key by its public prefix (unique); the caller verifies the secret hash.</summary>
    Task<ApiKey?> GetByPrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a revocation. Revoking is one-way in storage too: a copy read before another caller revoked the key
    /// does not bring it back. The last use is written only by <see cref="MarkUsedAsync"/>.
    /// </summary>
    Task UpdateAsync(ApiKey key, CancellationToken cancellationToken);

    /// <summary>Revokes every key of <paramref name="owner"/> not revoked yet, as of <paramref name="at"/>; how many.</summary>
    Task<int> RevokeAllAsync(UserId owner, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Records a use of an active key, moving its last use forward only: one targeted update that touches nothing
    /// else, so a key revoked meanwhile stays revoked.
    /// </summary>
    Task MarkUsedAsync(ApiKeyId id, DateTimeOffset usedAt, CancellationToken cancellationToken);
}
