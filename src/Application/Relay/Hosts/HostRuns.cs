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

    /// <summary>Notes the run (<paramref name="bootId"/>) a host's heartbeat comes from.</summary>
    public void NoteBoot(Guid workerId, Guid? bootId)
    {
        if (bootId is not { } boot)
        {
            return;
        }

        var now = clock.UtcNow;
        _boots.AddOrUpdate(workerId, (boot, DateTimeOffset.MinValue),
            (_, before) => before.Boot == boot ? before : (boot, now));
    }

    /// <summary>When this process saw <paramref name="workerId"/> come back as a new run; null when it has not.</summary>
    public DateTimeOffset? RestartedAt(Guid workerId) =>
        _boots.TryGetValue(workerId, out var seen) && seen.Since > DateTimeOffset.MinValue ? seen.Since : null;
}
