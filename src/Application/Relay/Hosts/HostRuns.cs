using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// Which run of each model host this process has heard from (its heartbeat's boot id), and when a host came back as a
/// new one: requests sent to it before then were lost with the run that had them. One per process.
/// </summary>
public sealed class HostRuns(IClock clock)
{
    private readonly ConcurrentDictionary<Guid, (Guid Boot, DateTimeOffset Since)> _boots = new();
    private int _restartUnseen;

    /// <summary>
    /// Notes the run (<paramref name="bootId"/>) a host's heartbeat comes from; true when it is a new run of a host heard
    /// before here — what the last run had taken is lost, and the expiry pass should look at once
    /// (<see cref="TakeRestartNews"/>).
    /// </summary>
    public bool NoteBoot(Guid workerId, Guid? bootId)
    {
        if (bootId is not { } boot)
        {
            return false;
        }

        var now = clock.UtcNow;
        var restarted = false;
        _boots.AddOrUpdate(workerId, (boot, DateTimeOffset.MinValue),
            (_, before) =>
            {
                if (before.Boot == boot)
                {
                    return before;
                }

                restarted = true;
                return (boot, now);
            });
        if (restarted)
        {
            Volatile.Write(ref _restartUnseen, 1);
        }

        return restarted;
    }

    /// <summary>
    /// Whether a host came back as a new run since this was last asked: the requests its last run had taken wait for
    /// the expiry pass to send them again, which then runs at once rather than at its next poll.
    /// </summary>
    public bool TakeRestartNews() => Interlocked.Exchange(ref _restartUnseen, 0) == 1;

    /// <summary>When this process saw <paramref name="workerId"/> come back as a new run; null when it has not.</summary>
    public DateTimeOffset? RestartedAt(Guid workerId) =>
        _boots.TryGetValue(workerId, out var seen) && seen.Since > DateTimeOffset.MinValue ? seen.Since : null;
}
