using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>Who is calling: set by the host from the authenticated request.</summary>
public interface ICurrentUser
{
    UserId? Id { get; }

    /// <summary>The client's address, for per-IP rate limits.</summary>
    string? ClientIp { get; }
}

public interface IPasswordHasher
{
    string Hash(string password);

    bool Verify(string hash, string password);
}

public enum RateLimitScope
{
    User,
    Ip,

    /// <summary>A Discord guild or another set an admin groups users into.</summary>
    Guild,

    /// <summary>Every log-in attempt, per client IP; checked before the password is hashed.</summary>
    LogIn,

    /// <summary>Failed log-ins per client IP and username: a guesser slows down without locking the user out elsewhere.</summary>
    LogInFailure,

    /// <summary>The same failures over a longer span at a slower refill, so the back-off grows as they go on.</summary>
    LogInSustainedFailure,

    /// <summary>New accounts, per client IP.</summary>
    Register,

    /// <summary>New chats, per user.</summary>
    ChatCreation,

    /// <summary>New API keys, per user.</summary>
    ApiKeyCreation,

    /// <summary>Transcripts written to the object store on request (two objects each), per user.</summary>
    TranscriptStore,
}

/// <summary>Who a scope's buckets belong to.</summary>
public static class RateLimitScopes
{
    /// <summary>
    /// What asking the model for an answer costs (a send, a regenerate, an edit): a token of the client address's
    /// bucket and one of the user's.
    /// </summary>
    public static readonly IReadOnlyList<RateLimitScope> ModelWork = [RateLimitScope.Ip, RateLimitScope.User];

    /// <summary>The scopes keyed by the client's address rather than by a user (the caller may not be signed in).</summary>
    public static bool IsPerClientIp(this RateLimitScope scope) =>
        scope is RateLimitScope.Ip or RateLimitScope.LogIn or RateLimitScope.LogInFailure
            or RateLimitScope.LogInSustainedFailure or RateLimitScope.Register;
}

/// <summary>A bucket's size and refill rate; a per-minute rate of 0 or less means unlimited.</summary>
public readonly record struct RateLimit(int PerMinute, int Burst)
{
    public bool Unlimited => PerMinute <= 0;

    /// <summary>What a bucket holds when full: the burst, at least one request.</summary>
    public int Capacity => Math.Max(Burst, 1);
}

/// <summary>
/// The limits in force now, read on every check so changes apply at once. Configuration feeds it today; the admin
/// settings table can feed it later without touching the limiters.
/// </summary>
public interface IRateLimitSettings
{
    ValueTask<RateLimit> GetAsync(RateLimitScope scope, CancellationToken cancellationToken);
}

public readonly record struct RateLimitDecision(bool Allowed, TimeSpan RetryAfter)
{
    public static readonly RateLimitDecision Allow = new(true, TimeSpan.Zero);
}

/// <summary>Token buckets keyed by scope and key; limits come from configuration.</summary>
public interface IRateLimiter
{
    ValueTask<RateLimitDecision> TryAcquireAsync(RateLimitScope scope, string key, CancellationToken cancellationToken);

    /// <summary>
    /// Returns one token that <see cref="TryAcquireAsync"/> took for (<paramref name="scope"/>, <paramref name="key"/>)
    /// but that was not used, e.g. for a message found unsendable only after the check. The bucket never holds more
    /// than its capacity, and an unlimited scope has nothing to return. Best effort: a give-back that cannot reach the
    /// store is dropped, never thrown for an outage.
    /// </summary>
    ValueTask GiveBackAsync(RateLimitScope scope, string key, CancellationToken cancellationToken);
}

public interface IObjectStore
{
    Task PutAsync(string key, Stream content, string contentType, CancellationToken cancellationToken);

    /// <summary>Null when there is no such object.</summary>
    Task<Stream?> GetAsync(string key, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);

    IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken);
}

/// <summary>A link that downloads one object without other credentials until <see cref="ExpiresAt"/>.</summary>
public sealed record ObjectLink(string Url, DateTimeOffset ExpiresAt);

/// <summary>
/// Time-limited download links for stored objects: presigned URLs for S3; for the file-system store, a signed link to
/// the API's download route (a path relative to the API's base address).
/// </summary>
public interface IObjectLinks
{
    /// <summary><paramref name="fileName"/> is what a browser saves the download as.</summary>
    Task<ObjectLink> CreateDownloadLinkAsync(
        string key, string fileName, TimeSpan validFor, CancellationToken cancellationToken);
}

/// <summary>What a user holds open at once and is capped: WebSocket/SSE streams, <c>?wait=true</c> calls.</summary>
public enum ConcurrencyScope
{
    OpenStream,
    WaitingCall,
}

/// <summary>
/// Places one key (a user) may hold at once, counted across every process that shares the limiter. A place is a lease:
/// its holder renews it while it lives and gives it up when disposed; a holder that dies without giving it up (a killed
/// instance) loses it once its lease runs out, so the count recovers by itself.
/// </summary>
public interface IConcurrencyLimiter
{
    /// <summary>A place, held until disposed; null when <paramref name="limit"/> places are taken already (0: no cap).</summary>
    ValueTask<IAsyncDisposable?> TryEnterAsync(ConcurrencyScope scope, string key, int limit, CancellationToken cancellationToken);
}
