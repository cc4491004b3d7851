using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// What this process heard of the model hosts' heartbeats: whether each took work at its last one, of which run, and
/// when. It tells a host that is late from one that is gone: questions wait for a host known a moment ago, and the way
/// to a host late with its heartbeat is asked whether it works.
/// </summary>
public sealed class HostsHeard(IClock clock, ProcessPauses? pauses = null)
{
    private readonly ConcurrentDictionary<Guid, (bool Took, DateTimeOffset SeenAt, Guid? Boot)> _last = new();
    private long _lastKnownTicks;

    /// <summary>
    /// Notes <paramref name="health"/>, the heartbeat of run <paramref name="bootId"/>; true when the host took work
    /// at its last heartbeat heard here, of the same run, less than <paramref name="workerTimeout"/> before this one.
    /// </summary>
    public bool Note(HostHealth health, Guid? bootId, TimeSpan workerTimeout)
    {
        ArgumentNullException.ThrowIfNull(health);
        var before = _last.TryGetValue(health.WorkerId, out var last) && last.Took && last.Boot == bootId
                     && health.SeenAt - last.SeenAt <= workerTimeout;
        _last[health.WorkerId] = (health.TakesWork, health.SeenAt, bootId);
        if (health.TakesWork)
        {
            Known();
        }
        else
        {
            // It said it takes no more work (stopping, draining): not late, so nothing waits for it — but another host
            // that took work at its last heartbeat may still be late with its next one.
            Volatile.Write(ref _lastKnownTicks, LatestTakerOtherThan(health.WorkerId));
        }

        return before;
    }

    /// <summary>A host that takes work is known now (heard, or listed alive).</summary>
    public void Known() => Volatile.Write(ref _lastKnownTicks, clock.UtcNow.UtcTicks);

    /// <summary>
    /// Whether a host that takes work was known less than <paramref name="window"/> ago: one missing now may only be
    /// late (its heartbeat slowed on the way, or this process slow to record it), so the queue waits for it instead of
    /// telling users no host is online. So is one silent while this process stood still (<see cref="ProcessPauses"/>):
    /// what it sent meanwhile is not read yet.
    /// </summary>
    public bool KnewAHostWithin(TimeSpan window) =>
        clock.UtcNow.UtcTicks - Volatile.Read(ref _lastKnownTicks) < window.Ticks
        || Volatile.Read(ref _lastKnownTicks) > 0 && pauses?.PausedWithin(window) == true;

    /// <summary>How long ago a host that takes work was last known; null when none ever was.</summary>
    public TimeSpan? SinceAHostWasKnown =>
        Volatile.Read(ref _lastKnownTicks) is var ticks and > 0 ? TimeSpan.FromTicks(clock.UtcNow.UtcTicks - ticks) : null;

    /// <summary>
    /// Whether a host that took work at its last heartbeat heard here is late with the next one: silent for more than
    /// two <paramref name="heartbeatInterval"/>s and less than two <paramref name="workerTimeout"/>s (by then it is
    /// gone, or heard by the server bot beside this one). Its silence may be the way to it, out without this process
    /// having called Discord meanwhile (every slot busy, nothing to send): the way is then asked each second
    /// (<see cref="IRelayReachability"/>), so an outage is noted while it lasts — and the host's silence through it and
    /// its catch-up after it are not taken for its absence.
    /// </summary>
    public bool AHostIsLate(TimeSpan heartbeatInterval, TimeSpan workerTimeout)
    {
        var now = clock.UtcNow;
        foreach (var (_, last) in _last)
        {
            var silent = now - last.SeenAt;
            if (last.Took && silent > 2 * heartbeatInterval && silent < 2 * workerTimeout)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>When a host other than <paramref name="host"/> last said it takes work (0: none did).</summary>
    private long LatestTakerOtherThan(Guid host)
    {
        long latest = 0;
        foreach (var (other, last) in _last)
        {
            if (other != host && last.Took && last.SeenAt.UtcTicks > latest)
            {
                latest = last.SeenAt.UtcTicks;
            }
        }

        return latest;
    }
}
