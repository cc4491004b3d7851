using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// Whether some live worker accepts requests, as the dispatcher asks before every batch. A "yes" is kept for
/// <see cref="Reuse"/>: under load the dispatcher sends a batch every few milliseconds, and listing the workers is a
/// round trip to the shared presence store (two in Redis) each time. Presence is already as stale as a heartbeat
/// (a worker counts as alive until <c>Relay:WorkerTimeout</c> passes without one), so a second more changes nothing
/// a request can notice. A "no" is never kept: a worker that comes online is used by the very next batch.
/// </summary>
public sealed class WorkerAvailability(IWorkerPresence presence, IClock clock)
{
    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private long _acceptedUntilTicks = long.MinValue;

    public async ValueTask<bool> AnyAcceptsAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        if (now.UtcTicks < Volatile.Read(ref _acceptedUntilTicks))
        {
            return true;
        }

        var workers = await presence.ListAliveAsync(cancellationToken);
        var accepts = workers.Any(w => w.Accepts);
        Volatile.Write(ref _acceptedUntilTicks, accepts ? (now + Reuse).UtcTicks : long.MinValue);
        return accepts;
    }
}
