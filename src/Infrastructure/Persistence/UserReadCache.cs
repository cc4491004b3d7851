using System.Collections.Concurrent;
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
/// User rows of this process, by id: every authenticated request reads its caller, and a row changes only on a ban,
/// a role or preference change, so the read is answered here instead of by the database. Bounded
/// (<see cref="UserCacheOptions.Capacity"/>) and expiring (<see cref="UserCacheOptions.Lifetime"/>); only found rows
/// are kept, so a user created a moment ago is never reported missing. A write drops the row here and, through
/// <see cref="IUserCachePeers"/>, in every other process. A read that overlapped an invalidation does not keep what
/// it read: it may predate the write.
/// Each hit gives a new <see cref="User"/>, so a caller that changes its copy changes nobody else's.
/// </summary>
public sealed class UserReadCache
{
    private readonly ConcurrentDictionary<UserId, Entry> _entries = new();
    private readonly UserCacheOptions _options;
    private readonly IUserCachePeers _peers;
    private readonly TimeProvider _clock;
    private long _generation;

    public UserReadCache(UserCacheOptions options, IUserCachePeers peers, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(peers);
        _options = options;
        _peers = peers;
        _clock = clock;
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

    /// <summary>Rows held now, expired ones included until they are swept.</summary>
    public int Count => _entries.Count;

    /// <summary>A copy of the cached row, when there is a current one and the cache may serve.</summary>
    public bool TryGet(UserId id, out User user)
    {
        if (_entries.TryGetValue(id, out var entry) && _clock.GetUtcNow() < entry.ExpiresAt && _peers.IsListening)
        {
            user = entry.Row.ToUser();
            return true;
        }

        user = null!;
        return false;
    }

    /// <summary>Taken before reading the database; <see cref="Keep"/> needs it to tell whether a write came between.</summary>
    public long BeginRead() => Interlocked.Read(ref _generation);

    /// <summary>Keeps a row read since <paramref name="readStarted"/>, unless a write may have come meanwhile.</summary>
    public void Keep(long readStarted, User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (Interlocked.Read(ref _generation) != readStarted || !_peers.IsListening || !HasRoom())
        {
            return;
        }

        var entry = new Entry(Row.Of(user), _clock.GetUtcNow() + _options.Lifetime);
        _entries[user.Id] = entry;

        // An invalidation between the check above and the store: it may have missed this entry, so take it out.
        if (Interlocked.Read(ref _generation) != readStarted)
        {
            _entries.TryRemove(new KeyValuePair<UserId, Entry>(user.Id, entry));
        }
    }

    /// <summary>After a write: the row is read from the database next time, here and in every other process.</summary>
    public Task InvalidateAsync(UserId id)
    {
        Drop(id);
        return _peers.PublishAsync(id);
    }

    /// <summary>Forgets one row in this process only.</summary>
    public void Drop(UserId id)
    {
        // The generation moves before the row goes, so a read that stores after this sees it moved.
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(id, out _);
    }

    /// <summary>Forgets every row in this process only.</summary>
    public void DropAll()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    private bool HasRoom()
    {
        if (_entries.Count < _options.Capacity)
        {
            return true;
        }

        var now = _clock.GetUtcNow();
        foreach (var (id, entry) in _entries)
        {
            if (now >= entry.ExpiresAt)
            {
                _entries.TryRemove(new KeyValuePair<UserId, Entry>(id, entry));
            }
        }

        return _entries.Count < _options.Capacity;
    }

    private sealed record Entry(Row Row, DateTimeOffset ExpiresAt);

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
}
