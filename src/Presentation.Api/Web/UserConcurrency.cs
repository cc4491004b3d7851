using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>
/// The caller's place among the streams and waiting calls one user may hold open at once
/// (<c>RateLimits:MaxOpenStreamsPerUser</c>, <c>RateLimits:MaxWaitingCallsPerUser</c>); each holds a connection, a
/// subscription and memory for as long as it lasts, so one user cannot pile them up. Counted across every API
/// instance in distributed mode.
/// </summary>
public sealed class UserConcurrency(IConcurrencyLimiter limiter, ICurrentUser caller, IOptionsMonitor<RateLimitOptions> options,
    PlatformMetrics metrics)
{
    /// <summary>A place frees when a stream or call ends, which cannot be foretold: this is a fair guess to retry after.</summary>
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>A place, held until disposed; a full quota answers 429 with Retry-After.</summary>
    public async Task<IAsyncDisposable> EnterAsync(ConcurrencyScope scope, CancellationToken cancellationToken)
    {
        if (caller.Id is not { } user)
        {
            // Only authenticated endpoints ask; there is nobody to count.
            return NoPlace.Instance;
        }

        var (limit, what) = scope == ConcurrencyScope.OpenStream
            ? (options.CurrentValue.MaxOpenStreamsPerUser, "streams open")
            : (options.CurrentValue.MaxWaitingCallsPerUser, "calls waiting for an answer");
        if (await limiter.TryEnterAsync(scope, user.ToString(), limit, cancellationToken) is { } place)
        {
            return place;
        }

        var name = scope.ToString().ToLowerInvariant();
        metrics.Refused(name);
        throw new RateLimitedException(RetryAfter, name,
            $"You have {limit} {what} already, the most allowed at once; close one and try again.");
    }

    private sealed class NoPlace : IAsyncDisposable
    {
        public static readonly NoPlace Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
