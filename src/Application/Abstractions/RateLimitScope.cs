
namespace MeatLizard.Application.Abstractions;

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

    /// <summary>Changes a user makes to their own records (a chat's title or settings, a link code), per user.</summary>
    Edit,

    /// <summary>Every call of the admin console (reads and changes), per admin.</summary>
    Admin,
}

/// <summary>Who a scope's buckets belong to.</summary>
public static class RateLimitScopes
{
    /// <summary>
    /// What asking the model for an answer costs (a send, a regenerate, an edit): a token of the client address's
    /// bucket, one of the user's and, for a chat network member writing in a guild or group, one of that guild's.
    /// </summary>
    public static readonly IReadOnlyList<RateLimitScope> ModelWork =
        [RateLimitScope.Ip, RateLimitScope.User, RateLimitScope.Guild];

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
