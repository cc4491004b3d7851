using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// When this process could not reach the model hosts: the relay transport's outages as it saw them (Discord REST
/// answering 5xx, failing to connect or not answering), and the time before this process started (the relay was down
/// with it). Deadlines measure the model host, not the way to it: a request's ack and completion deadlines are read
/// on <see cref="HostClock"/>, which stands still while the way is out, up to <see cref="RelayOptions.MaxOutageHold"/>.
/// One per process. Outages are told to the other relay processes and theirs heard (<see cref="IRelayPeerOutages"/>): a
/// second server bot holds the hosts' deadlines through an outage only its peer met.
/// </summary>
public sealed class RelayTransportHealth(IClock clock, IRelayListening? listening = null, IRelayPeerOutages? peers = null)
{
    /// <summary>Outages further back than this are forgotten: no deadline reaches that far.</summary>
    internal static readonly TimeSpan Memory = TimeSpan.FromHours(1);

    /// <summary>How often an outage under way is told again to the other processes (they forget one not repeated).</summary>
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(1);

    private readonly PeerOutagesSeen _peers = Heard(peers, new PeerOutagesSeen(clock));
    private DateTimeOffset _reportedAt = DateTimeOffset.MinValue;

    private readonly Lock _lock = new();
    private readonly List<(DateTimeOffset From, DateTimeOffset To)> _past = [];
    private readonly DateTimeOffset _started = clock.UtcNow;
    private DateTimeOffset? _downSince;
    private DateTimeOffset _recoveredAt = DateTimeOffset.MinValue;
    private DateTimeOffset? _lastAnswered;

    /// <summary>Since when the way to the hosts is out; null while it works.</summary>
    public DateTimeOffset? DownSince
    {
        get
        {
            lock (_lock)
            {
                return _downSince;
            }
        }
    }

    /// <summary>
    /// A call to the transport failed for want of it (no answer, a 5xx) after <paramref name="callTook"/>: the way may
    /// have been out since the last call it answered (nothing tried it in between), and was by the time this one was
    /// made.
    /// </summary>
    public void Unreachable(TimeSpan callTook)
    {
        var sentAt = clock.UtcNow - callTook;
        lock (_lock)
        {
            if (_lastAnswered is { } answered && answered < sentAt)
            {
                sentAt = answered;
            }

            if (_downSince is null || sentAt < _downSince)
            {
                _downSince = sentAt;
            }

            if (peers is null || clock.UtcNow - _reportedAt < ReportEvery)
            {
                return;
            }

            _reportedAt = clock.UtcNow;
            sentAt = _downSince.Value;
        }

        peers.Report(sentAt, null, HostsCatchUp);
    }

    /// <summary>The transport answered (whatever it said, short of a 5xx): an outage under way has ended.</summary>
    public void Reachable()
    {
        var now = clock.UtcNow;
        DateTimeOffset since;
        lock (_lock)
        {
            _lastAnswered = now;
            if (_downSince is not { } downSince)
            {
                return;
            }

            since = downSince;
            _past.Add((since, now));
            _past.RemoveAll(o => o.To < now - Memory);
            _downSince = null;
            _recoveredAt = now;
            _reportedAt = DateTimeOffset.MinValue;
        }

        peers?.Report(since, now, HostsCatchUp);
        Recovered?.Invoke();
    }

    /// <summary>Whether a call to the transport was answered less than <paramref name="window"/> ago.</summary>
    public bool AnsweredWithin(TimeSpan window)
    {
        lock (_lock)
        {
            return _lastAnswered is { } answered && clock.UtcNow - answered < window;
        }
    }

    /// <summary>Raised when an outage ends: work held back for it can go.</summary>
    public event Action? Recovered;

    /// <summary>Whether the way is out now, for less than <paramref name="cap"/>: nothing can be sent to a host.</summary>
    public bool IsOut(TimeSpan cap)
    {
        var now = clock.UtcNow;
        lock (_lock)
        {
            return _downSince is { } since && now - since < cap;
        }
    }

    /// <summary>
    /// Whether the hosts' silence says nothing now: the way is out (for less than <paramref name="cap"/>), or came back
    /// less than <paramref name="heartbeatWindow"/> ago, before a live host's next heartbeat could arrive — and so
    /// while this process does not receive from the hosts yet (it has just started: <see cref="IRelayListening"/>), and
    /// for <paramref name="heartbeatWindow"/> after it began to — longer by the hosts' redial
    /// (<see cref="IRelayListening.HostsRedialAfterStart"/>) where they lost their way to this process while it was
    /// down. After an outage the window is longer by the hosts' catch-up (<see cref="IRelayListening.HostsCatchUp"/>,
    /// or the one a peer reported with its outage's end): the hosts met the outage too, and their own retries back off.
    /// </summary>
    public bool HidesHosts(TimeSpan heartbeatWindow, TimeSpan cap)
    {
        var now = clock.UtcNow;
        if ((listening ?? FromTheStart).Since is not { } listeningSince)
        {
            return now - _started < cap;
        }

        if (_peers.AnyDown(cap))
        {
            return true;
        }

        var (peerRecoveredAt, peerCaughtUpAt) = (_peers.RecoveredAt, _peers.CaughtUpAt);
        lock (_lock)
        {
            if (_downSince is { } since)
            {
                return now - since < cap;
            }

            var recoveredAt = peerRecoveredAt > _recoveredAt ? peerRecoveredAt : _recoveredAt;
            var caughtUpAt = _recoveredAt + HostsCatchUp;
            caughtUpAt = peerCaughtUpAt > caughtUpAt ? peerCaughtUpAt : caughtUpAt;
            return recoveredAt > listeningSince
                ? now - caughtUpAt < heartbeatWindow
                : now - listeningSince < heartbeatWindow + (listening ?? FromTheStart).HostsRedialAfterStart;
        }
    }

    /// <summary>How long this process's hosts may stay silent after an outage of its way to them.</summary>
    private TimeSpan HostsCatchUp => (listening ?? FromTheStart).HostsCatchUp;

    private static readonly IRelayListening FromTheStart = new ListeningFromTheStart();

    /// <summary>
    /// How much of [<paramref name="from"/>, <paramref name="now"/>] the way to the hosts was out (this process's own
    /// absence included), at most <paramref name="cap"/>.
    /// </summary>
    public TimeSpan HeldSince(DateTimeOffset from, DateTimeOffset now, TimeSpan cap)
    {
        var outages = new List<(DateTimeOffset From, DateTimeOffset To)>(_peers.Outages(now));
        lock (_lock)
        {
            outages.Add((DateTimeOffset.MinValue, _started));
            outages.AddRange(_past);
            if (_downSince is { } since)
            {
                outages.Add((since, now));
            }
        }

        // Its own outages and its peers' overlap (they are mostly the same one): each moment counts once.
        var held = TimeSpan.Zero;
        var counted = from;
        foreach (var (start, end) in outages.OrderBy(o => o.From))
        {
            var a = start > counted ? start : counted;
            var b = end < now ? end : now;
            if (b > a)
            {
                held += b - a;
                counted = b;
            }
        }

        return held < cap ? held : cap;
    }

    private static PeerOutagesSeen Heard(IRelayPeerOutages? peers, PeerOutagesSeen seen)
    {
        peers?.Listen(seen.Heard);
        return seen;
    }

    /// <summary>
    /// The time a request's deadlines are read on: <paramref name="now"/> less the time the way to its host was out
    /// since <paramref name="since"/> (its dispatch).
    /// </summary>
    public DateTimeOffset HostClock(DateTimeOffset since, DateTimeOffset now, TimeSpan cap) => now - HeldSince(since, now, cap);
}
