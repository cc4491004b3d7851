
namespace MeatLizard.Application.Abstractions;

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
