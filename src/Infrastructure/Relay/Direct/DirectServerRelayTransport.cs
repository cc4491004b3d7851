using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// The server's end of the direct relay, in the API process: model hosts dial its endpoint and each keeps a link here
/// (<see cref="DirectLink"/>, one per host process) that outlives its connections. What the server sends goes to every
/// link, as every host reads every channel over Discord (each host takes what is addressed to it; the envelopes are
/// sealed, so a host learns nothing of the others'); a link whose host is away keeps it until it is back, for
/// <see cref="LinkLinger"/> at most. A host may send for the chats it was sent something for, and heartbeats: an envelope
/// for any other chat is dropped and counted.
/// </summary>
public sealed partial class DirectServerRelayTransport(
    DirectRelayOptions options, DirectRelayCounters counters, TimeProvider time, ILogger<DirectServerRelayTransport> logger)
    : IServerRelayTransport, IRelayHostLinks
{
    /// <summary>How long a link whose host has gone keeps what is sent to it, waiting for the host to come back.</summary>
    public static readonly TimeSpan LinkLinger = TimeSpan.FromMinutes(10);

    /// <summary>How many chats each host is remembered to have been sent something for (the oldest forgotten first).</summary>
    private const int ChatsRemembered = 50_000;

    private readonly ConcurrentDictionary<(string Host, Guid Link), HostLink> _links = new();
    private readonly ConcurrentDictionary<string, GivenChats> _given = new(StringComparer.Ordinal);
    private readonly Channel<RelayPacket> _inbound = Channel.CreateUnbounded<RelayPacket>(
        new UnboundedChannelOptions { SingleReader = true });

    public ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        ForgetGoneLinks();
        foreach (var ((host, _), link) in _links)
        {
            if (packet.SessionId is { } chat)
            {
                _given.GetOrAdd(host, _ => new GivenChats()).Add(chat);
            }

            if (!link.State.Enqueue(packet.SessionId, packet.Wire))
            {
                counters.Increment(DirectRelayDrop.Overflowed);
            }
        }

        return ValueTask.CompletedTask;
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) =>
        _inbound.Reader.ReadAllAsync(cancellationToken);

    /// <summary>
    /// Serves one connection of host <paramref name="host"/> (its token checked at the handshake) for its link
    /// <paramref name="linkId"/>, until it ends; a newer connection of the same link ends this one.
    /// </summary>
    public async Task ServeAsync(string host, Guid linkId, WebSocket socket, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var link = _links.GetOrAdd((host, linkId), _ => AdoptingGoneLinks(host, new HostLink(new DirectLink(options.MaxUnacknowledged))));
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        link.Take(connection);
        LogConnected(logger, host);
        try
        {
            await new DirectConnection(socket, link.State, frame => Deliver(host, frame), counters, options.MaxFrameBytes)
                .RunAsync(connection.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The connection broke or was ended; the link keeps what it did not deliver.
        }
        finally
        {
            link.Release(connection, time.GetUtcNow());
            LogDisconnected(logger, host);
        }
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

    private void Deliver(string host, DirectFrame frame)
    {
        if (frame.SessionId is { } chat && !(_given.TryGetValue(host, out var given) && given.Contains(chat)))
        {
            counters.Increment(DirectRelayDrop.UnknownRequest);
            return;
        }

        _inbound.Writer.TryWrite(new RelayPacket(frame.SessionId, frame.Wire!));
    }

    private void ForgetGoneLinks()
    {
        var now = time.GetUtcNow();
        foreach (var (key, link) in _links)
        {
            if (link.GoneSince is { } since && now - since > LinkLinger)
            {
                _links.TryRemove(key, out _);
            }
        }
    }

    /// <summary>A host's link and the connection serving it now, if any.</summary>
    private sealed class HostLink(DirectLink state)
    {
        private readonly Lock _gate = new();
        private CancellationTokenSource? _current;

        public DirectLink State { get; } = state;

        public DateTimeOffset? GoneSince { get; private set; }

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
            }

            Cancel(previous);
        }

        public void Release(CancellationTokenSource connection, DateTimeOffset now)
        {
            lock (_gate)
            {
                if (_current == connection)
                {
                    _current = null;
                    GoneSince = now;
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Model host {Host} connected to the direct relay")]
    private static partial void LogConnected(ILogger logger, string host);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model host {Host} disconnected from the direct relay")]
    private static partial void LogDisconnected(ILogger logger, string host);
}
