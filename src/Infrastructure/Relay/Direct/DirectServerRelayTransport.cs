using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// The server's end of the direct relay, in the API process: model hosts dial its endpoint and each keeps a link here
/// (<see cref="DirectLink"/>, one per host process) that outlives its connections. What the server sends goes to every
/// link, as every host reads every channel over Discord (each host takes what is addressed to it; the envelopes are
/// sealed, so a host learns nothing of the others'); a link whose host is away keeps it until it is back, for
/// <see cref="LinkLinger"/> at most. A host may send for the chats it was sent something for, and heartbeats: an envelope
/// for any other chat is dropped and counted — save the chats whose requests were with a host when it connected
/// (<see cref="GivenBeforeAsync"/>): another process gave them — this one's predecessor, or another API instance the
/// host was connected to until it died — and a host that was answering them goes on, and sends again what the restart
/// or the instance's death cut off. What a host sends is acknowledged once the relay has handled it
/// (<see cref="DirectDelivery"/>), so an answer that arrived as this process died is sent again to the next.
/// </summary>
/// <remarks>
/// It also tells the relay when the way to its hosts is out (<see cref="RelayTransportHealth"/>,
/// <see cref="IRelayReachability"/>): when no host is connected and one's connection broke — reset, cut short, silent
/// past its keep-alive — rather than closed by the host. This end cannot tell a host cut off by the network from one
/// whose process died, and either is back as soon as it dials again: until then its questions are held and its
/// deadlines stand still, as through a Discord outage, up to <c>Relay:MaxOutageHold</c>. A host that closes its
/// connection (stopping) is simply gone, and one of several that breaks off is judged by its silence, as over Discord:
/// the hosts still connected take its work.
/// <para>
/// Several API instances may run the direct relay side by side, a host dialling any of them (<see cref="IRelayReach"/>):
/// each instance's dispatcher places requests only on the hosts whose heartbeats come over a connection to it now, and
/// what those hosts send is handled here; the queue, the requests and the hosts' presence are shared through the
/// database and Redis, as two server bots share them over Discord.
/// </para>
/// </remarks>
public sealed partial class DirectServerRelayTransport(
    DirectRelayOptions options, DirectRelayCounters counters, TimeProvider time, RelayTransportHealth health,
    IServiceScopeFactory scopes, IDirectRelayPeers peers, ILogger<DirectServerRelayTransport> logger)
    : IServerRelayTransport, IRelayHostLinks, IRelayReachability, IRelayReach
{
    /// <summary>How long a link whose host has gone keeps what is sent to it, waiting for the host to come back.</summary>
    public static readonly TimeSpan LinkLinger = TimeSpan.FromMinutes(10);

    /// <summary>How many chats each host is remembered to have been sent something for (the oldest forgotten first).</summary>
    private const int ChatsRemembered = 50_000;

    private readonly ConcurrentDictionary<(string Host, Guid Link), HostLink> _links = new();
    private readonly ConcurrentDictionary<string, GivenChats> _given = new(StringComparer.Ordinal);

    /// <summary>Each model host (by worker id) and the link its latest heartbeat came over.</summary>
    private readonly ConcurrentDictionary<Guid, HostLink> _heartbeatsOver = new();
    private readonly Channel<RelayPacket> _inbound = Channel.CreateUnbounded<RelayPacket>(
        new UnboundedChannelOptions { SingleReader = true });

    private readonly SemaphoreSlim _readingGivenBefore = new(1, 1);
    private volatile IReadOnlySet<Guid>? _givenBefore;

    public ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        ForgetGoneLinks();
        foreach (var ((host, _), link) in _links)
        {
            Enqueue(host, link, packet);
        }

        if (packet.ForHost is { } forHost && !Reaches(forHost))
        {
            // Connected to another instance (a cancel asked here for a request it has): that one sends it. A copy the
            // host also gets from here later (its link kept here while it is away) is dropped by its replay guard.
            peers.Forward(forHost, packet);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// An envelope another API instance passed on for <paramref name="host"/> (<see cref="IDirectRelayPeers"/>): sent on
    /// the link its heartbeats came over here, connected now or kept while it is away; nothing when it never was here.
    /// </summary>
    public void SendForwarded(Guid host, RelayPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        if (!_heartbeatsOver.TryGetValue(host, out var link))
        {
            return;
        }

        foreach (var ((name, _), _) in _links.Where(l => ReferenceEquals(l.Value, link)))
        {
            Enqueue(name, link, packet);
        }
    }

    private void Enqueue(string host, HostLink link, RelayPacket packet)
    {
        if (packet.ChatId is { } chat)
        {
            _given.GetOrAdd(host, _ => new GivenChats()).Add(chat);
        }

        if (!link.State.Enqueue(packet.ChatId, packet.Wire))
        {
            counters.Increment(DirectRelayDrop.Overflowed);
        }
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) =>
        _inbound.Reader.ReadAllAsync(cancellationToken);

    /// <summary>
    /// Whether <paramref name="workerId"/> is reached through this process: its latest heartbeat came over a link that is
    /// connected here now. A host that dialled another API instance since is that instance's to send to.
    /// </summary>
    public bool Reaches(Guid workerId) => _heartbeatsOver.TryGetValue(workerId, out var link) && link.IsConnected;

    /// <summary>
    /// Every host: the instance it is connected to records its heartbeats in the presence store every instance reads, and
    /// one whose instance died has only the others left to judge what it had.
    /// </summary>
    public bool Judges(Guid workerId) => true;

    /// <summary>Whether a host can be reached now: false while every host is cut off (<see cref="HostsCutOff"/>).</summary>
    public Task<bool> IsReachableAsync(CancellationToken cancellationToken) => Task.FromResult(NoteTheWay());

    /// <summary>
    /// Serves one connection of host <paramref name="host"/> (its token checked at the handshake) for its link
    /// <paramref name="linkId"/>, until it ends; a newer connection of the same link ends this one, and so does
    /// <paramref name="cancellationToken"/> (this process stopping) — one that breaks ends by itself, its host cut off.
    /// </summary>
    public async Task ServeAsync(string host, Guid linkId, WebSocket socket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        await GivenBeforeAsync(cancellationToken);
        var link = _links.GetOrAdd((host, linkId), _ => AdoptingGoneLinks(host, new HostLink(new DirectLink(options.MaxUnacknowledged))));
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        link.Take(connection);
        LogConnected(logger, host);
        NoteTheWay();
        var end = DirectConnectionEnd.Broken;
        try
        {
            end = await new DirectConnection(socket, link.State, (frame, delivery) => Deliver(host, link, frame, delivery), counters,
                options.MaxFrameBytes).RunAsync(connection.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The connection broke or was ended; the link keeps what it did not deliver.
        }
        finally
        {
            link.Release(connection, time.GetUtcNow(), cutOff: end == DirectConnectionEnd.Broken);
            LogDisconnected(logger, host, end);
            NoteTheWay();
        }
    }

    /// <summary>
    /// Every host this end knows is cut off: none is connected, and one's connection broke (it did not close it) within
    /// <see cref="LinkLinger"/>. Nothing can reach a host until one dials again.
    /// </summary>
    private bool HostsCutOff => !_links.Values.Any(l => l.IsConnected) && _links.Values.Any(l => l.CutOff);

    /// <summary>
    /// Tells the relay whether the way to the hosts is out (dated from the last envelope a host sent, which is when it
    /// was last known to work) or back; returns whether it works.
    /// </summary>
    private bool NoteTheWay()
    {
        if (HostsCutOff)
        {
            health.Unreachable(TimeSpan.Zero);
            return false;
        }

        if (health.DownSince is not null)
        {
            health.Reachable(); // a host dialled again, or the one cut off is forgotten
        }

        return true;
    }

    public bool IsConnected(string name) => _links.Any(l => l.Key.Host == name && l.Value.IsConnected);

    public void Disconnect(string name)
    {
        foreach (var key in _links.Keys.Where(k => k.Host == name).ToList())
        {
            if (_links.TryRemove(key, out var link))
            {
                link.End();
            }
        }

        _given.TryRemove(name, out _);
        NoteTheWay(); // a revoked host is not waited for
    }

    /// <summary>
    /// A host process's first connection: what was sent to the same host's earlier processes, now gone, goes to it (a
    /// request sent while the host restarted reaches it, as over Discord); those links are forgotten.
    /// </summary>
    private HostLink AdoptingGoneLinks(string host, HostLink link)
    {
        foreach (var (key, earlier) in _links)
        {
            if (key.Host == host && !earlier.IsConnected && _links.TryRemove(key, out _))
            {
                link.State.Adopt(earlier.State);
            }
        }

        return link;
    }

    /// <summary>
    /// The chats whose requests are with a model host as a connection comes, read before it is served (no frame is read
    /// before): those this process did not give were given by another — the process before this one, or another API
    /// instance the host was connected to, now dead or cut off from it. Kept as last read when the database cannot say
    /// now (empty at first: the host's envelopes for the others are dropped meanwhile, and their requests end at their
    /// deadlines as before).
    /// </summary>
    private async Task GivenBeforeAsync(CancellationToken cancellationToken)
    {
        await _readingGivenBefore.WaitAsync(cancellationToken);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var inFlight = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>().ListInFlightAsync(cancellationToken);
            _givenBefore = inFlight.Select(r => r.ChatId.Value).ToHashSet();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogGivenBeforeUnread(logger, ex);
        }
        finally
        {
            _readingGivenBefore.Release();
        }
    }

    private void Deliver(string host, HostLink link, DirectFrame frame, DirectDelivery delivery)
    {
        // A host is heard: the way to it works (an outage noted later is dated from the last of these).
        health.Reachable();
        if (frame.ChatId is { } chat && !(_given.TryGetValue(host, out var given) && given.Contains(chat))
            && _givenBefore?.Contains(chat) != true)
        {
            counters.Increment(DirectRelayDrop.UnknownRequest);
            delivery.Handled();
            return;
        }

        _inbound.Writer.TryWrite(new RelayPacket(frame.ChatId, frame.Wire!)
        {
            Delivery = new LinkDelivery(delivery, worker => _heartbeatsOver[worker] = link),
        });
    }

    private void ForgetGoneLinks()
    {
        var now = time.GetUtcNow();
        var forgot = false;
        foreach (var (key, link) in _links)
        {
            if (link.GoneSince is { } since && now - since > LinkLinger)
            {
                forgot |= _links.TryRemove(key, out _);
            }
        }

        if (forgot)
        {
            NoteTheWay();
        }
    }

    /// <summary>What the relay is told it has handled goes to the link; whose heartbeat it was tells which way that host is reached.</summary>
    private sealed class LinkDelivery(DirectDelivery delivery, Action<Guid> heardFrom) : RelayDelivery
    {
        public override void Handled() => delivery.Handled();

        public override void HeardFrom(Guid workerId) => heardFrom(workerId);
    }

    /// <summary>A host's link and the connection serving it now, if any.</summary>
    private sealed class HostLink(DirectLink state)
    {
        private readonly Lock _gate = new();
        private CancellationTokenSource? _current;

        public DirectLink State { get; } = state;

        public DateTimeOffset? GoneSince { get; private set; }

        /// <summary>Its last connection broke (rather than being closed by the host) and no other has taken its place.</summary>
        public bool CutOff { get; private set; }

        public bool IsConnected
        {
            get
            {
                lock (_gate)
                {
                    return _current is not null;
                }
            }
        }

        /// <summary>A new connection serves the link: one still open (a host that reconnected faster than it noticed) ends.</summary>
        public void Take(CancellationTokenSource connection)
        {
            CancellationTokenSource? previous;
            lock (_gate)
            {
                previous = _current;
                _current = connection;
                GoneSince = null;
                CutOff = false;
            }

            Cancel(previous);
        }

        public void Release(CancellationTokenSource connection, DateTimeOffset now, bool cutOff)
        {
            lock (_gate)
            {
                if (_current == connection)
                {
                    _current = null;
                    GoneSince = now;
                    CutOff = cutOff;
                }
            }
        }

        public void End()
        {
            CancellationTokenSource? current;
            lock (_gate)
            {
                current = _current;
            }

            Cancel(current);
        }

        private static void Cancel(CancellationTokenSource? connection)
        {
            try
            {
                connection?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // It ended meanwhile.
            }
        }
    }

    /// <summary>The chats a host was sent something for, the most recent <see cref="ChatsRemembered"/>.</summary>
    private sealed class GivenChats
    {
        private readonly Lock _gate = new();
        private readonly HashSet<Guid> _chats = [];
        private readonly Queue<Guid> _order = new();

        public void Add(Guid chat)
        {
            lock (_gate)
            {
                if (!_chats.Add(chat))
                {
                    return;
                }

                _order.Enqueue(chat);
                if (_order.Count > ChatsRemembered)
                {
                    _chats.Remove(_order.Dequeue());
                }
            }
        }

        public bool Contains(Guid chat)
        {
            lock (_gate)
            {
                return _chats.Contains(chat);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not read the requests in flight as a host connected; a host's envelopes for those another process gave are dropped until it can")]
    private static partial void LogGivenBeforeUnread(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model host {Host} connected to the direct relay")]
    private static partial void LogConnected(ILogger logger, string host);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model host {Host} disconnected from the direct relay ({End})")]
    private static partial void LogDisconnected(ILogger logger, string host, DirectConnectionEnd end);
}
