using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The user repository of a provider with lookups by id answered from <see cref="UserReadCache"/> (the caller of every
/// request). Every write of a user goes through <see cref="UpdateAsync"/>, which drops the cached row at once and
/// again when the transaction it ran in has ended: a read that raced the write and found the old, still committed
/// row cannot keep it. Reads inside a transaction go to the database, so what a transaction writes back is based on
/// the stored row, never on a copy. Lookups by username (sign-in, admin commands) are not cached.
/// </summary>
internal sealed class CachedUserRepository(
    Lazy<IUserRepository> database, UserReadCache cache, AfterCommitUnitOfWork unitOfWork) : IUserRepository
{
    // The provider's repository, made only when a call needs the database: a lookup the cache answers (every request's
    // key or caller after the first) builds neither it nor what it is made of.
    private IUserRepository Inner => database.Value;

    /// <summary>Not-found is never cached, so a new user needs nothing dropped.</summary>
    public Task AddAsync(User user, CancellationToken cancellationToken) => Inner.AddAsync(user, cancellationToken);

    public async Task<User?> GetAsync(UserId id, CancellationToken cancellationToken)
    {
        if (unitOfWork.InTransaction)
        {
            return await Inner.GetAsync(id, cancellationToken);
        }

        if (cache.TryGet(id, out var cached))
        {
            return cached;
        }

        var readStarted = cache.BeginRead();
        var user = await Inner.GetAsync(id, cancellationToken);
        if (user is not null)
        {
            cache.Keep(readStarted, user);
        }

        return user;
    }

    public Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken) =>
        Inner.GetByUsernameAsync(username, cancellationToken);

    public Task UpdateAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        return WriteAsync(user.Id, () => Inner.UpdateAsync(user, cancellationToken));
    }

    public Task<int> CountAdminsAsync(CancellationToken cancellationToken) => Inner.CountAdminsAsync(cancellationToken);

    public async Task<bool> DeleteAwaitingApprovalAsync(UserId id, CancellationToken cancellationToken)
    {
        var deleted = false;
        await WriteAsync(id, async () => deleted = await Inner.DeleteAwaitingApprovalAsync(id, cancellationToken));
        return deleted;
    }

    public Task EraseAsync(UserId id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteAsync(id, () => Inner.EraseAsync(id, now, cancellationToken));

    public Task EndSessionAsync(UserId id, string sessionId, DateTimeOffset until, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        WriteAsync(id, () => Inner.EndSessionAsync(id, sessionId, until, now, cancellationToken));

    private Task WriteAsync(UserId id, Func<Task> write) => cache.WriteAsync(id, unitOfWork, write);
}
