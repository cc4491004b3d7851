using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Relay;

/// <summary>
/// When this process could not reach the model hosts: the relay transport's outages as it saw them (Discord REST
/// answering 5xx, failing to connect or not answering), and the time before this process started (the relay was down
/// with it). Deadlines measure the model host, not the way to it: a request's ack and completion deadlines are read
/// on <see cref="HostClock"/>, which stands still while the way is out, up to <see cref="RelayOptions.MaxOutageHold"/>.
/// One per process.
/// </summary>
public sealed class RelayTransportHealth(IClock clock, IRelayListening? listening = null)
{
    /// <summary>Outages further back than this are forgotten: no deadline reaches that far.</summary>
    private static readonly TimeSpan Memory = TimeSpan.FromHours(1);

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
        }
    }

    /// <summary>The transport answered (whatever it said, short of a 5xx): an outage under way has ended.</summary>
    public void Reachable()
    {
        var now = clock.UtcNow;
        lock (_lock)
        {
            _lastAnswered = now;
            if (_downSince is not { } since)
            {
                return;
            }

            _past.Add((since, now));
            _past.RemoveAll(o => o.To < now - Memory);
            _downSince = null;
            _recoveredAt = now;
        }

        Recovered?.Invoke();
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
    /// for <paramref name="heartbeatWindow"/> after it began to. After an outage (not after a start) the window is
    /// longer by <paramref name="hostsCatchUp"/>: the hosts met the outage too, and their own retries back off.
    /// </summary>
    public bool HidesHosts(TimeSpan heartbeatWindow, TimeSpan cap, TimeSpan hostsCatchUp = default)
    {
        var now = clock.UtcNow;
        if ((listening ?? FromTheStart).Since is not { } listeningSince)
        {
            return now - _started < cap;
        }

        lock (_lock)
        {
            if (_downSince is { } since)
            {
                return now - since < cap;
            }

            return _recoveredAt > listeningSince
                ? now - _recoveredAt < heartbeatWindow + hostsCatchUp
                : now - listeningSince < heartbeatWindow;
        }
    }

    private static readonly IRelayListening FromTheStart = new ListeningFromTheStart();

    /// <summary>
    /// How much of [<paramref name="from"/>, <paramref name="now"/>] the way to the hosts was out (this process's own
    /// absence included), at most <paramref name="cap"/>.
    /// </summary>
    public TimeSpan HeldSince(DateTimeOffset from, DateTimeOffset now, TimeSpan cap)
    {
        var held = TimeSpan.Zero;
        lock (_lock)
        {
            held += Overlap(from, now, DateTimeOffset.MinValue, _started);
            foreach (var (start, end) in _past)
            {
                held += Overlap(from, now, start, end);
            }

            if (_downSince is { } since)
            {
                held += Overlap(from, now, since, now);
            }
        }

        return held < cap ? held : cap;
    }

    /// <summary>
    /// The time a request's deadlines are read on: <paramref name="now"/> less the time the way to its host was out
    /// since <paramref name="since"/> (its dispatch).
    /// </summary>
    public DateTimeOffset HostClock(DateTimeOffset since, DateTimeOffset now, TimeSpan cap) => now - HeldSince(since, now, cap);

    private static TimeSpan Overlap(DateTimeOffset from, DateTimeOffset to, DateTimeOffset start, DateTimeOffset end)
    {
        var a = from > start ? from : start;
        var b = to < end ? to : end;
        return b > a ? b - a : TimeSpan.Zero;
    }
}
