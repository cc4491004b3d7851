using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The outages of the way to the model hosts that other relay processes (a second server bot) reported
/// (<see cref="IRelayPeerOutages"/>), kept for <see cref="RelayTransportHealth"/>: a bot whose own calls never met an
/// outage its peer met still knows that the hosts' silence then said nothing about them, and that their deadlines
/// stood still. A report from far outside this process's clock is ignored.
/// </summary>
public sealed class PeerOutagesSeen(IClock clock)
{
    /// <summary>
    /// A peer repeats its report while the outage lasts (its probe asks every second); one not repeated for this long
    /// ended without a word (the peer died, or the report of its end was lost) and counts as over when last heard.
    /// </summary>
    public static readonly TimeSpan ReportLife = TimeSpan.FromSeconds(5);

    /// <summary>How far a report's times may stray from this process's clock (two machines' clocks, not a minute apart).</summary>
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, (DateTimeOffset Since, DateTimeOffset HeardAt, TimeSpan CatchUp)> _down =
        new(StringComparer.Ordinal);

    private readonly List<(DateTimeOffset From, DateTimeOffset To)> _past = [];
    private DateTimeOffset _recoveredAt = DateTimeOffset.MinValue;
    private DateTimeOffset _caughtUpAt = DateTimeOffset.MinValue;

    /// <summary>Notes <paramref name="report"/>, if its times make sense here.</summary>
    public void Heard(RelayOutageReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var now = clock.UtcNow;
        if (report.DownSince > now + Skew || report.DownSince < now - RelayTransportHealth.Memory
            || report.UpAt is { } up && (up < report.DownSince || up > now + Skew))
        {
            return;
        }

        lock (_lock)
        {
            Expire(now);
            if (report.UpAt is { } upAt)
            {
                _down.Remove(report.Reporter);
                _past.Add((report.DownSince, upAt));
                Recovered(now, report.HostsCatchUp);
            }
            else
            {
                _down[report.Reporter] = (report.DownSince, now, report.HostsCatchUp);
            }
        }
    }

    /// <summary>Whether a peer's outage is under way, since less than <paramref name="cap"/>.</summary>
    public bool AnyDown(TimeSpan cap)
    {
        var now = clock.UtcNow;
        lock (_lock)
        {
            Expire(now);
            foreach (var (since, _, _) in _down.Values)
            {
                if (now - since < cap)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>When a peer's outage last ended, as heard here (this process's clock).</summary>
    public DateTimeOffset RecoveredAt
    {
        get
        {
            lock (_lock)
            {
                Expire(clock.UtcNow);
                return _recoveredAt;
            }
        }
    }

    /// <summary>
    /// When the hosts behind a peer whose outage ended have caught up with it, as heard here: its end plus the catch-up
    /// the peer reported with it (<see cref="RelayOutageReport.HostsCatchUp"/>), the latest of them.
    /// </summary>
    public DateTimeOffset CaughtUpAt
    {
        get
        {
            lock (_lock)
            {
                Expire(clock.UtcNow);
                return _caughtUpAt;
            }
        }
    }

    /// <summary>Every peer outage remembered, those under way ending now.</summary>
    public IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Outages(DateTimeOffset now)
    {
        lock (_lock)
        {
            Expire(now);
            return [.. _past, .. _down.Values.Select(d => (d.Since, now))];
        }
    }

    private void Expire(DateTimeOffset now)
    {
        // Asked on every relay decision (several per question), and almost always with nothing remembered: nothing is
        // allocated then (no closure: a lambda capturing `now` would be made at every call).
        if (_down.Count > 0)
        {
            foreach (var (reporter, (since, heardAt, catchUp)) in _down.ToList())
            {
                if (now - heardAt >= ReportLife)
                {
                    _down.Remove(reporter);
                    _past.Add((since, heardAt));
                    Recovered(heardAt + ReportLife, catchUp);
                }
            }
        }

        if (_past.Count > 0)
        {
            ForgetBefore(now - RelayTransportHealth.Memory);
        }
    }

    private void ForgetBefore(DateTimeOffset forgotten)
    {
        _past.RemoveAll(o => o.To < forgotten);
    }

    private void Recovered(DateTimeOffset at, TimeSpan catchUp)
    {
        _recoveredAt = at > _recoveredAt ? at : _recoveredAt;
        var caughtUp = at + (catchUp > TimeSpan.Zero && catchUp < RelayTransportHealth.Memory ? catchUp : TimeSpan.Zero);
        _caughtUpAt = caughtUp > _caughtUpAt ? caughtUp : _caughtUpAt;
    }
}
