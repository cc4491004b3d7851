using System.Threading.Channels;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// One side of a direct relay link, which outlives its connections: the envelopes sent and not yet acknowledged (kept
/// to send again after a reconnect), the number of the last envelope received (so one sent twice is taken once), and
/// the ack owed to the other side. An envelope is acknowledged once what it carries is handled (<see cref="Receive"/>),
/// not when it arrives: the other side forgets what is acknowledged, so one that arrived and went with this process
/// before it was stored (a kill -9) is sent again to the next one. The ack covers every number up to the first received
/// and not yet handled. Numbers start at 1 and grow by one per envelope sent. Each side's state is one
/// incarnation (<see cref="Id"/>, new per process): a hello that names another incarnation of this side (the other side
/// talked to this one's previous process) or a new one of the other side (it restarted) starts the numbers it refers to
/// again. A connection's writer waits on <see cref="WaitForWorkAsync"/>; thread-safe.
/// </summary>
public sealed class DirectLink(int maxUnacknowledged)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiting> _unacknowledged = new();
    private readonly Channel<bool> _doorbell = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    private readonly SortedSet<long> _unhandled = [];
    private long _lastSent;
    private long _lastReceived;
    private long _ackSent;
    private Guid? _peer;
    private int _peerRun;

    /// <summary>This side's incarnation of the link.</summary>
    public Guid Id { get; } = Guid.NewGuid();

    /// <summary>
    /// This side's hello: the last envelope it has handled with all before it (the other side sends again what follows;
    /// those received but not yet handled are then taken as repeats), of the other side's incarnation it knows.
    /// </summary>
    public DirectFrame Hello()
    {
        lock (_gate)
        {
            return DirectFrame.Hello(AckPoint, Id, _peer);
        }
    }

    /// <summary>
    /// Takes the other side's hello; returns the number after which this side sends again what waits for an ack (0:
    /// everything, when the hello is about another incarnation of this side).
    /// </summary>
    public long Greeted(DirectFrame hello)
    {
        lock (_gate)
        {
            if (_peer != hello.Link)
            {
                // The other side is new (or new to us): what we received from an earlier one says nothing of it.
                _peer = hello.Link;
                _peerRun++;
                _lastReceived = 0;
                _ackSent = 0;
                _unhandled.Clear();
            }
        }

        if (hello.PeerLink != Id)
        {
            return 0;
        }

        Acknowledged(hello.Seq);
        return hello.Seq;
    }

    /// <summary>Envelopes dropped unsent because too many waited for an ack (the other side away for long).</summary>
    public long Overflowed { get; private set; }

    /// <summary>The number of the last envelope received: what this side's hello says.</summary>
    public long LastReceived
    {
        get
        {
            lock (_gate)
            {
                return _lastReceived;
            }
        }
    }

    /// <summary>How many envelopes wait for the other side's ack.</summary>
    public int Unacknowledged
    {
        get
        {
            lock (_gate)
            {
                return _unacknowledged.Count;
            }
        }
    }

    /// <summary>
    /// Numbers an envelope and keeps it until acknowledged; false when the oldest waiting one had to go to make room
    /// (at most <c>maxUnacknowledged</c> wait).
    /// </summary>
    public bool Enqueue(Guid? chatId, string wire)
    {
        var kept = true;
        lock (_gate)
        {
            var seq = ++_lastSent;
            _unacknowledged.AddLast(new Waiting(seq, chatId, wire, DirectFrame.Envelope(seq, chatId, wire).Write()));
            if (_unacknowledged.Count > maxUnacknowledged)
            {
                _unacknowledged.RemoveFirst();
                Overflowed++;
                kept = false;
            }
        }

        Ring();
        return kept;
    }

    /// <summary>
    /// Takes over what <paramref name="earlier"/> (a link of the same host's previous process, gone) still had waiting:
    /// the new process reads it as a restarted client bot catches up with its Discord channels. Numbered anew here.
    /// </summary>
    public void Adopt(DirectLink earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        List<Waiting> waiting;
        lock (earlier._gate)
        {
            waiting = [.. earlier._unacknowledged];
            earlier._unacknowledged.Clear();
        }

        foreach (var envelope in waiting)
        {
            Enqueue(envelope.ChatId, envelope.Wire);
        }
    }

    private sealed record Waiting(long Seq, Guid? ChatId, string Wire, byte[] Frame);

    /// <summary>The other side has every envelope up to <paramref name="seq"/>: they need not be sent again.</summary>
    public void Acknowledged(long seq)
    {
        lock (_gate)
        {
            while (_unacknowledged.First is { } first && first.Value.Seq <= seq)
            {
                _unacknowledged.RemoveFirst();
            }
        }
    }

    /// <summary>The envelopes numbered after <paramref name="seq"/> still waiting for an ack, in order.</summary>
    public IReadOnlyList<(long Seq, byte[] Frame)> WaitingAfter(long seq)
    {
        lock (_gate)
        {
            return [.. _unacknowledged.Where(e => e.Seq > seq).Select(e => (e.Seq, e.Frame))];
        }
    }

    /// <summary>
    /// Takes an envelope numbered <paramref name="seq"/> in, handled at once (it needs nothing more to be acknowledged):
    /// true the first time, false for one received before (sent again after a reconnect).
    /// </summary>
    public bool Accept(long seq)
    {
        if (Receive(seq) is not { } delivery)
        {
            return false;
        }

        delivery.Handled();
        return true;
    }

    /// <summary>
    /// Takes an envelope numbered <paramref name="seq"/> in: its delivery the first time, acknowledged once it is
    /// handled; null for one received before (sent again after a reconnect). Numbers only grow on a link: an older one
    /// is a repeat.
    /// </summary>
    public DirectDelivery? Receive(long seq)
    {
        lock (_gate)
        {
            if (seq <= _lastReceived)
            {
                return null;
            }

            _lastReceived = seq;
            _unhandled.Add(seq);
            return new DirectDelivery(this, _peerRun, seq);
        }
    }

    /// <summary>
    /// What envelope <paramref name="seq"/> of the other side's run <paramref name="peerRun"/> carried is handled: the
    /// ack may cover it once every envelope before it is handled too. (One of a run the other side has since left
    /// behind is nothing to acknowledge any more.)
    /// </summary>
    internal void Handled(int peerRun, long seq)
    {
        lock (_gate)
        {
            var before = AckPoint;
            if (peerRun != _peerRun || !_unhandled.Remove(seq) || AckPoint == before)
            {
                return;
            }
        }

        Ring();
    }

    /// <summary>The last number received with every one before it handled (numbers never received need no handling).</summary>
    private long AckPoint => _unhandled.Count == 0 ? _lastReceived : _unhandled.Min - 1;

    /// <summary>The ack to send now (the last number handled with all before it, if not acknowledged yet); marks it sent.</summary>
    public long? TakeAckDue()
    {
        lock (_gate)
        {
            var ack = AckPoint;
            if (ack <= _ackSent)
            {
                return null;
            }

            _ackSent = ack;
            return _ackSent;
        }
    }

    /// <summary>A new connection: the ack it owes starts again from what its hello says.</summary>
    public void Reconnected()
    {
        lock (_gate)
        {
            _ackSent = AckPoint;
        }
    }

    /// <summary>Waits until there is something to send (an envelope or an ack).</summary>
    public async ValueTask WaitForWorkAsync(CancellationToken cancellationToken) =>
        await _doorbell.Reader.ReadAsync(cancellationToken);

    private void Ring() => _doorbell.Writer.TryWrite(true);
}

/// <summary>
/// An envelope received on a <see cref="DirectLink"/>, with the packet it became: the link acknowledges it to the other
/// side only once <see cref="Handled"/> (what it carried is stored or acted on, or refused for good).
/// </summary>
public sealed class DirectDelivery : RelayDelivery
{
    private readonly DirectLink _link;
    private readonly int _peerRun;
    private readonly long _seq;

    internal DirectDelivery(DirectLink link, int peerRun, long seq)
    {
        _link = link;
        _peerRun = peerRun;
        _seq = seq;
    }

    public override void Handled() => _link.Handled(_peerRun, _seq);
}
