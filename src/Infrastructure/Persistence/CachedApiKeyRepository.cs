using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The API key repository of a provider with lookups by prefix — one per API request — answered from
/// <see cref="UserReadCache"/>. A revocation (one key, or all of an owner's) drops the owner's keys and row here and in
/// every other process before it returns, and again when its transaction has ended, as a ban does; a user's own write
/// (a ban, a password change, an erasure) drops their keys too. Reads inside a transaction, and lookups by id (an open
/// stream's periodic check), go to the database. A key not found is not cached, so a new key works at once.
/// </summary>
internal sealed class CachedApiKeyRepository(
    Lazy<IApiKeyRepository> database, UserReadCache cache, AfterCommitUnitOfWork unitOfWork) : IApiKeyRepository
{
    // The provider's repository, made only when a call needs the database: a lookup the cache answers (every request's
    // key or caller after the first) builds neither it nor what it is made of.
    private IApiKeyRepository Inner => database.Value;

    public Task AddAsync(ApiKey key, CancellationToken cancellationToken) => Inner.AddAsync(key, cancellationToken);

    public Task<ApiKey?> GetAsync(ApiKeyId id, CancellationToken cancellationToken) => Inner.GetAsync(id, cancellationToken);

    public async Task<ApiKey?> GetByPrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        if (unitOfWork.InTransaction)
        {
            return await Inner.GetByPrefixAsync(prefix, cancellationToken);
        }

        if (cache.TryGetKey(prefix, out var cached))
        {
            return cached;
        }

        var readStarted = cache.BeginKeyRead();
        var key = await Inner.GetByPrefixAsync(prefix, cancellationToken);
        if (key is not null)
        {
            cache.KeepKey(readStarted, key);
        }

        return key;
    }

    public Task UpdateAsync(ApiKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return cache.WriteAsync(key.OwnerId, unitOfWork, () => Inner.UpdateAsync(key, cancellationToken));
    }

    public async Task<int> RevokeAllAsync(UserId owner, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var revoked = 0;
        await cache.WriteAsync(owner, unitOfWork, async () => revoked = await Inner.RevokeAllAsync(owner, at, cancellationToken));
        return revoked;
    }

    /// <summary>
    /// The last use is informational and moves forward only, so only this process's copy is dropped: the next request
    /// reads the new one instead of writing again at once.
    /// </summary>
    public async Task MarkUsedAsync(ApiKeyId id, DateTimeOffset usedAt, CancellationToken cancellationToken)
    {
        await Inner.MarkUsedAsync(id, usedAt, cancellationToken);
        cache.DropKey(id);
    }
}
