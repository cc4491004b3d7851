using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Hosts;

/// <summary>
/// The model hosts a question is checked against before it is taken (the OpenAI API's models, its 404, 503 and 400s):
/// the presence store's live hosts, and those it listed before that may only be hidden or late — as the dispatcher
/// waits for them rather than tell a queued question that no host is online. While the way to the hosts is out or only
/// just back (<see cref="RelayWay.HidesHosts"/>: their heartbeats travel over it), and for
/// <see cref="RelayOptions.LateHostGrace"/> after a host's last heartbeat went stale (a slow heartbeat, or one lost with
/// a restarted Redis), a host listed before still counts: the question is queued and held for it, not refused.
/// </summary>
/// <remarks>
/// A host that said it takes no work (draining, stopping, its engine down) is listed as such by the store and counts as
/// that at once; only a host's absence from the list is doubted. When the last host that took work drops out of the
/// list, it is logged with what was known then (an operator's, and a failed test's, account of a 503 "no model host").
/// </remarks>
public sealed partial class HostsOnline(IHostPresence presence, RelayWay way, IClock clock, IOptions<RelayOptions> options,
    ILogger<HostsOnline>? logger = null)
{
    private volatile IReadOnlyList<HostHealth> _listed = [];

    /// <summary>The hosts online now, with those listed before that may only be hidden or late.</summary>
    public async ValueTask<IReadOnlyList<HostHealth>> ListAsync(CancellationToken cancellationToken)
    {
        var alive = await presence.ListAliveAsync(cancellationToken);
        var hidden = way.HidesHosts;
        var staleBefore = clock.UtcNow - options.Value.WorkerTimeout - options.Value.LateHostGrace;
        var missing = _listed.Where(before => before.Accepts && (hidden || before.SeenAt > staleBefore)
                                              && !alive.Any(now => now.WorkerId == before.WorkerId));
        var online = alive.Concat(missing).ToList();
        var before = _listed;
        _listed = online;
        if (!online.Any(h => h.Accepts) && before.Where(h => h.Accepts).MaxBy(h => h.SeenAt) is { } last)
        {
            LogNoneListed(logger ?? NullLogger<HostsOnline>.Instance, (clock.UtcNow - last.SeenAt).TotalSeconds, alive.Count,
                hidden, way.IsOut);
        }

        return online;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "No model host that takes work is listed any more: the last one's heartbeat is {Age:F1} s old, the " +
                  "presence store lists {Alive} host(s), the way to the hosts hides them: {Hidden}, is out: {Out}")]
    private static partial void LogNoneListed(ILogger logger, double age, int alive, bool hidden, bool @out);
}
