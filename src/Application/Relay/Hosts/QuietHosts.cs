using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// Which model hosts have gone quiet or come back as a new run, as far as this process can tell: only for the hosts it
/// judges (<see cref="ModelHosts.Judges"/>), once it has been up long enough to have heard every live host, and never
/// while the way to the hosts is out or only just back — their silence then says nothing about them.
/// </summary>
public sealed class QuietHosts(
    IHostPresence presence,
    ModelHosts hosts,
    HostRuns runs,
    RelayWay way,
    IOptions<RelayOptions> options)
{
    /// <summary>
    /// The hosts alive now, when it can be told which of the hosts <paramref name="inFlight"/> went to are not; null
    /// when it cannot (the way is out or only just back, nothing is with a host, this process has not heard every host
    /// yet, or the way turns out to be out now, asked before any host is taken for gone).
    /// </summary>
    public async Task<HashSet<Guid>?> AliveAsync(IReadOnlyList<RelayRequest> inFlight, CancellationToken cancellationToken)
    {
        if (way.HidesHosts || !inFlight.Any(r => r.WorkerId is not null)
            || !hosts.HeardFromAllHosts(options.Value.WorkerTimeout))
        {
            return null;
        }

        var alive = (await presence.ListAliveAsync(cancellationToken)).Select(w => w.WorkerId).ToHashSet();
        if (inFlight.Any(r => r.WorkerId is { } host && !alive.Contains(host))
            && !await way.IsReachableAsync(cancellationToken))
        {
            return null;
        }

        return alive;
    }

    /// <summary>Whether this process can tell if <paramref name="host"/> is alive (<see cref="ModelHosts.Judges"/>).</summary>
    public bool Judges(Guid host) => hosts.Judges(host);

    /// <summary>
    /// Whether <paramref name="host"/>'s latest heartbeat came after <paramref name="since"/>, and did not say it is
    /// stopping: a host that drains takes nothing new, so what it did not acknowledge is not sent to it again (its
    /// goodbye may well be read after the dispatch it never saw).
    /// </summary>
    public async Task<bool> HeardSinceAsync(Guid host, DateTimeOffset? since, CancellationToken cancellationToken) =>
        (await presence.ListAliveAsync(cancellationToken)).Any(w => w.WorkerId == host && w.SeenAt > since && !w.Draining);

    /// <summary>Whether <paramref name="host"/> came back as a new run after <paramref name="since"/>.</summary>
    public bool RestartedSince(Guid host, DateTimeOffset? since) => runs.RestartedAt(host) > since;

    /// <summary>
    /// Taken up by a run of the host before the one heard now (<see cref="HostRuns.LostWithAnEarlierRun"/>): the run
    /// that had it is gone, whether this process heard it or another did. Or, not acknowledged, sent to such a run
    /// (<see cref="HostRuns.SentToAnEarlierRun"/>) where what is sent reaches that run alone
    /// (<see cref="ModelHosts.SendsToOneRunOnly"/>): the new run never had it, and would never acknowledge it — it would
    /// wait for its ack timeout. (Over Discord, the new run reads it when it catches up with its channels, and answers.)
    /// </summary>
    public bool LostInARestart(RelayRequest request, Guid host) =>
        request.AckedAt is { } acked
            ? runs.LostWithAnEarlierRun(host, acked, request.AckedByRun)
            : hosts.SendsToOneRunOnly && request is { SentToRun: { } sentTo, DispatchedAt: { } sent }
              && runs.SentToAnEarlierRun(host, sent, sentTo);
}
