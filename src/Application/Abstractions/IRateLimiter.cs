
namespace MeatLizard.Application.Abstractions;

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
