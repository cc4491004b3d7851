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
}

public readonly record struct RateLimitDecision(bool Allowed, TimeSpan RetryAfter)
{
    public static readonly RateLimitDecision Allow = new(true, TimeSpan.Zero);
}

/// <summary>Token buckets keyed by scope and key; limits come from configuration.</summary>
public interface IRateLimiter
{
    ValueTask<RateLimitDecision> TryAcquireAsync(RateLimitScope scope, string key, CancellationToken cancellationToken);
}

public interface IObjectStore
{
    Task PutAsync(string key, Stream content, string contentType, CancellationToken cancellationToken);

    /// <summary>Null when there is no such object.</summary>
    Task<Stream?> GetAsync(string key, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);

    IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken);
}
