using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// Which run of each model host this process has heard from (its heartbeat's boot id), since when, and whether it heard
/// the host come back as a new one: requests an earlier run had taken were lost with it. One per process; a request
/// names the run that acknowledged it (<see cref="Domain.Relay.RelayRequest.AckedByRun"/>), so a process that never heard
/// that run knows too.
/// </summary>
public sealed class HostRuns(IClock clock)
{
    private readonly ConcurrentDictionary<Guid, Run> _runs = new();
    private int _restartUnseen;

    /// <summary>How many replaced runs of a host are remembered, so that their late heartbeats change nothing.</summary>
    private const int KeptReplaced = 4;

    /// <summary>
    /// Notes the run (<paramref name="bootId"/>) a host's heartbeat comes from, sent at <paramref name="sentAt"/> by the
    /// host's clock; true when what an earlier run had taken may be lost, and the expiry pass should look at once
    /// (<see cref="TakeRestartNews"/>): a new run of a host heard before here, or a host first heard here — it may be
    /// back as a new run, its last one heard by another process (an instance that died, a server bot started afresh).
    /// A run counts from when its heartbeat was sent, when that is earlier than now: a heartbeat read late (caught up
    /// from a channel's history, tried again after a failure, behind a slow lane) says the run was there then, and
    /// a later run that acknowledged meanwhile is not taken for lost. A heartbeat of a run this process has already
    /// heard replaced is read late too, and changes nothing: a run once replaced never comes back.
    /// </summary>
    public bool NoteBoot(Guid workerId, Guid? bootId, DateTimeOffset? sentAt = null)
    {
        if (bootId is not { } boot)
        {
            return false;
        }

        var now = clock.UtcNow;
        var since = sentAt < now ? sentAt.Value : now;
        var restarted = false;
        var firstHeard = false;
        _runs.AddOrUpdate(workerId,
            _ =>
            {
                firstHeard = true;
                return new Run(boot, since, Restarted: false, []);
            },
            (_, before) =>
            {
                restarted = false;
                if (before.Boot == boot || before.Replaced.Contains(boot))
                {
                    return before;
                }

                restarted = true;
                return new Run(boot, since, Restarted: true, [before.Boot, .. before.Replaced.Take(KeptReplaced - 1)]);
            });
        if (restarted || firstHeard)
        {
            Volatile.Write(ref _restartUnseen, 1);
        }

        return restarted || firstHeard;
    }

    /// <summary>
    /// Whether a host came back as a new run (or was first heard here) since this was last asked: the requests its last
    /// run had taken wait for the expiry pass to send them again, which then runs at once rather than at its next poll.
    /// </summary>
    public bool TakeRestartNews() => Interlocked.Exchange(ref _restartUnseen, 0) == 1;

    /// <summary>When this process saw <paramref name="workerId"/> come back as a new run; null when it has not.</summary>
    public DateTimeOffset? RestartedAt(Guid workerId) =>
        _runs.TryGetValue(workerId, out var run) && run.Restarted ? run.HeardFrom : null;

    /// <summary>
    /// Whether the run of <paramref name="workerId"/> that acknowledged a request at <paramref name="ackedAt"/> is gone:
    /// the run heard now was heard from after the ack (by when its first heartbeat here was sent, at the latest when it
    /// was read: <see cref="NoteBoot"/>), and is another — by the run the ack named
    /// (<paramref name="ackedBy"/>), whichever process heard that one; by this process having heard the host come back,
    /// when the ack did not say. (A run heard here since before the ack is the one that took it, or one whose successor
    /// acknowledged before its first heartbeat came: that successor is alive.)
    /// </summary>
    public bool LostWithAnEarlierRun(Guid workerId, DateTimeOffset ackedAt, Guid? ackedBy) =>
        _runs.TryGetValue(workerId, out var run) && ackedAt < run.HeardFrom
        && (ackedBy is { } taker ? taker != run.Boot : run.Restarted);

    /// <summary>
    /// Whether an attempt sent at <paramref name="sentAt"/> to the run <paramref name="sentTo"/> of
    /// <paramref name="workerId"/> (the run the dispatching process had heard last), which no run acknowledged, cannot be
    /// with the run heard now: that one is another, heard from after the send (as for an ack:
    /// <see cref="LostWithAnEarlierRun"/>) — it was not there yet when the attempt went to the run before it. An earlier
    /// run's heartbeat read late counts from when it was sent, so it never makes a later run's request look lost.
    /// </summary>
    public bool SentToAnEarlierRun(Guid workerId, DateTimeOffset sentAt, Guid sentTo) =>
        LostWithAnEarlierRun(workerId, sentAt, sentTo);

    /// <summary>The run of <paramref name="workerId"/> heard here last; null when none was.</summary>
    public Guid? Current(Guid workerId) => _runs.TryGetValue(workerId, out var run) ? run.Boot : null;

    /// <summary>
    /// A host's run as heard here: its boot id, since when, whether it followed another heard here, and the runs it
    /// and those before it replaced (the latest first).
    /// </summary>
    private sealed record Run(Guid Boot, DateTimeOffset HeardFrom, bool Restarted, IReadOnlyList<Guid> Replaced);
}
