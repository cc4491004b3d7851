using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>Section "Cache:Users": the read cache of user rows (<see cref="UserReadCache"/>).</summary>
public sealed class UserCacheOptions
{
    public const string Section = "Cache:Users";

    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a cached row may be served: the safety net should an invalidation be lost. Zero turns the cache off.
    /// </summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many users this process keeps at most; past it, new rows are read through until room frees up.</summary>
    public int Capacity { get; set; } = 10_000;
}

/// <summary>
/// How the user cache of this process hears of writes made in the others, and tells them of its own. Without Redis
/// (embedded mode) there are no others.
/// </summary>
public interface IUserCachePeers
{
    /// <summary>
    /// True while every write elsewhere is sure to reach this process; while false the cache serves nothing and keeps
    /// nothing, so a write it could not hear of is never hidden behind an old row.
    /// </summary>
    bool IsListening { get; }

    /// <summary>Called with a user's id when another process changed that user; with null when writes may have been missed.</summary>
    void OnInvalidated(Action<UserId?> invalidated);

    /// <summary>Tells the other processes; a failure to tell them is recorded, not thrown.</summary>
    Task PublishAsync(UserId id);
}

/// <summary>One process, nobody else to tell or listen to.</summary>
internal sealed class NoUserCachePeers : IUserCachePeers
{
    public bool IsListening => true;

    public void OnInvalidated(Action<UserId?> invalidated)
    {
    }

    public Task PublishAsync(UserId id) => Task.CompletedTask;
}

/// <summary>
/// User rows of this process, by id, and their API keys, by prefix: every authenticated request reads its caller (and
/// an API request its key), and a row changes only on a ban, a role or preference change, a revocation, so the read is
/// answered here instead of by the database (<see cref="ReadCache{TKey,TRow}"/>). Only found rows are kept, so a user
/// or a key created a moment ago is never reported missing. A write drops the user's row and keys here and, through
/// <see cref="IUserCachePeers"/>, in every other process.
/// Each hit gives a new <see cref="User"/> or <see cref="ApiKey"/>, so a caller that changes its copy changes nobody else's.
/// </summary>
public sealed class UserReadCache
{
    private readonly ReadCache<UserId, Row> _users;
    private readonly ReadCache<string, KeyRow> _keys;
    private readonly IUserCachePeers _peers;

    public UserReadCache(UserCacheOptions options, IUserCachePeers peers, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(peers);
        _peers = peers;
        _users = new(options, () => peers.IsListening, clock);
        _keys = new(options, () => peers.IsListening, clock);
        peers.OnInvalidated(id =>
        {
            if (id is { } one)
            {
                Drop(one);
            }
            else
            {
                DropAll();
            }
        });
    }

    /// <summary>User rows held now, expired ones included until they are swept.</summary>
    public int Count => _users.Count;

    /// <summary>API keys held now, expired ones included until they are swept.</summary>
    public int KeyCount => _keys.Count;

    /// <summary>A copy of the cached row, when there is a current one and the cache may serve.</summary>
    public bool TryGet(UserId id, out User user)
    {
        user = _users.TryGet(id, out var row) ? row.ToUser() : null!;
        return user is not null;
    }

    /// <summary>Taken before reading the database; <see cref="Keep"/> needs it to tell whether a write came between.</summary>
    public long BeginRead() => _users.BeginRead();

    /// <summary>Keeps a row read since <paramref name="readStarted"/>, unless a write may have come meanwhile.</summary>
    public void Keep(long readStarted, User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        _users.Keep(readStarted, user.Id, Row.Of(user));
    }

    /// <summary>A copy of the cached key with this prefix, when there is a current one and the cache may serve.</summary>
    public bool TryGetKey(string prefix, out ApiKey key)
    {
        key = _keys.TryGet(prefix, out var row) ? row.ToKey() : null!;
        return key is not null;
    }

    /// <summary>Taken before reading a key; <see cref="KeepKey"/> needs it.</summary>
    public long BeginKeyRead() => _keys.BeginRead();

    public void KeepKey(long readStarted, ApiKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _keys.Keep(readStarted, key.Prefix, KeyRow.Of(key));
    }

    /// <summary>Forgets one key in this process only (its last use moved: informational, nobody else needs telling).</summary>
    public void DropKey(ApiKeyId id) => _keys.DropWhere(k => k.Id == id);

    /// <summary>After a write of a user or their keys: read from the database next time, here and in every other process.</summary>
    public Task InvalidateAsync(UserId id)
    {
        Drop(id);
        return _peers.PublishAsync(id);
    }

    /// <summary>
    /// Runs a write of the user's row or keys, then drops them here and in every other process — also when the write
    /// failed (it may have been applied before the failure was seen) — and again when the transaction it ran in has
    /// ended: a read that raced the write and found the old, still committed row cannot keep it.
    /// </summary>
    internal async Task WriteAsync(UserId id, AfterCommitUnitOfWork unitOfWork, Func<Task> write)
    {
        try
        {
            await write();
        }
        finally
        {
            await InvalidateAsync(id);
            if (unitOfWork.InTransaction)
            {
                await unitOfWork.AfterCommitAsync(() => InvalidateAsync(id));
            }
        }
    }

    /// <summary>Forgets one user's row and keys in this process only.</summary>
    public void Drop(UserId id)
    {
        _users.Drop(id);
        _keys.DropWhere(k => k.OwnerId == id);
    }

    /// <summary>Forgets every row in this process only.</summary>
    public void DropAll()
    {
        _users.DropAll();
        _keys.DropAll();
    }

    /// <summary>The stored fields, immutable, so a cached row cannot be changed through a user handed out.</summary>
    private sealed record Row(
        UserId Id, Username Username, string PasswordHash, UserRole Role, UserStatus Status, UserPreferences Preferences,
        DateTimeOffset CreatedAt, string SecurityStamp, string[] EndedSessions)
    {
        public static Row Of(User user) => new(
            user.Id, user.Username, user.PasswordHash, user.Role, user.Status, user.Preferences, user.CreatedAt,
            user.SecurityStamp, [.. user.EndedSessions]);

        public User ToUser() =>
            User.Restore(Id, Username, PasswordHash, Role, Status, Preferences, CreatedAt, SecurityStamp, EndedSessions);
    }

    private sealed record KeyRow(
        ApiKeyId Id, UserId OwnerId, string Name, string Prefix, string SecretHash, DateTimeOffset CreatedAt,
        DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt)
    {
        public static KeyRow Of(ApiKey key) => new(
            key.Id, key.OwnerId, key.Name, key.Prefix, key.SecretHash, key.CreatedAt, key.LastUsedAt, key.RevokedAt);

        public ApiKey ToKey() => ApiKey.Restore(Id, OwnerId, Name, Prefix, SecretHash, CreatedAt, LastUsedAt, RevokedAt);
    }
}
