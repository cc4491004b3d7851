using System.Net.WebSockets;
using System.Threading.Channels;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// The client bot's (worker's) end of the direct relay: what it sends waits on its link until the server acknowledges
/// it, so an answer given while the connection is down arrives once it is back; what the server sends is read from the
/// link. <see cref="DirectRelayDialer"/> keeps the connection.
/// </summary>
public sealed class DirectHostRelayTransport(DirectRelayOptions options, DirectRelayCounters counters) : IHostRelayTransport
{
    private readonly Channel<RelayPacket> _inbound = Channel.CreateUnbounded<RelayPacket>(
        new UnboundedChannelOptions { SingleReader = true });

    public DirectLink Link { get; } = new(options.MaxUnacknowledged);

    public ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(packet);
        if (!Link.Enqueue(packet.ChatId, packet.Wire))
        {
            counters.Increment(DirectRelayDrop.Overflowed);
        }

        return ValueTask.CompletedTask;
    }

    public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) =>
        _inbound.Reader.ReadAllAsync(cancellationToken);

    /// <summary>
    /// Serves one connection to the server until it ends. What the server sends is acknowledged as it arrives: a request
    /// this process took and did not live to answer is the server's to send again (its deadlines, and a new run's
    /// requeue, see to that).
    /// </summary>
    public Task<DirectConnectionEnd> RunAsync(WebSocket socket, CancellationToken cancellationToken) =>
        new DirectConnection(socket, Link, (frame, delivery) =>
            {
                _inbound.Writer.TryWrite(new RelayPacket(frame.ChatId, frame.Wire!));
                delivery.Handled();
            },
            counters, options.MaxFrameBytes).RunAsync(cancellationToken);
}

/// <summary>
/// Dials the server's relay endpoint with the host token and keeps the connection: when it ends or cannot be made, it
/// dials again after a pause that grows from half a second to 30 s (with jitter), back to the shortest once a connection
/// has lasted. A refused token is logged and retried at the longest pause: an admin may make it valid again. The
/// connection's keep-alive follows the relay's heartbeat (<see cref="DirectRelayOptions.KeepAliveOf"/>): one the server
/// stopped answering is given up, and dialled again, within a worker timeout.
/// </summary>
public sealed partial class DirectRelayDialer(
    DirectHostRelayTransport transport, DirectRelayOptions options, IOptions<RelayOptions> relay, ILogger<DirectRelayDialer> logger)
    : BackgroundService
{
    private static readonly TimeSpan ShortestPause = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest a host waits before dialling again (the longest pause, stretched by its jitter): a server that
    /// starts hears every live host within this, and a heartbeat window.
    /// </summary>
    public static readonly TimeSpan LongestRedial = LongestPause * 1.25;

    /// <summary>How many connections were made (tests wait on it).</summary>
    public int Connections => Volatile.Read(ref _connections);

    private int _connections;
    private ClientWebSocket? _current;
    private long _downUntil;

    /// <summary>
    /// Breaks the connection now, as a network fault would, and keeps it down for <paramref name="stayDown"/> (tests);
    /// the dialer connects again after that.
    /// </summary>
    public void Drop(TimeSpan stayDown)
    {
        Interlocked.Exchange(ref _downUntil, (DateTimeOffset.UtcNow + stayDown).UtcTicks);
        _current?.Abort();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pause = ShortestPause;
        while (!stoppingToken.IsCancellationRequested)
        {
            using var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Authorization", $"Bearer {options.HostToken}");
            socket.Options.SetRequestHeader(DirectRelayOptions.LinkHeader, transport.Link.Id.ToString("D"));
            (socket.Options.KeepAliveInterval, socket.Options.KeepAliveTimeout) = DirectRelayOptions.KeepAliveOf(relay.Value);
            socket.Options.CollectHttpResponseDetails = true;
            var started = TimeProvider.System.GetTimestamp();
            try
            {
                await socket.ConnectAsync(options.EndpointUri, stoppingToken);
                _current = socket;
                Interlocked.Increment(ref _connections);
                LogConnected(logger, options.EndpointUri);
                await transport.RunAsync(socket, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or OperationCanceledException)
            {
                if (socket.HttpStatusCode == System.Net.HttpStatusCode.Unauthorized)
                {
                    LogRefused(logger, options.EndpointUri);
                    pause = LongestPause;
                }
                else
                {
                    LogLost(logger, options.EndpointUri, ex.Message);
                }
            }
            finally
            {
                _current = null;
            }

            if (TimeProvider.System.GetElapsedTime(started) > LongestPause)
            {
                pause = ShortestPause; // It lasted: the way works, a drop is news.
            }

            var jittered = pause * (0.75 + (Random.Shared.NextDouble() / 2));
            var down = new DateTimeOffset(Interlocked.Read(ref _downUntil), TimeSpan.Zero) - DateTimeOffset.UtcNow;
            jittered = down > jittered ? down : jittered;
            await Task.Delay(jittered, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the direct relay at {Endpoint}")]
    private static partial void LogConnected(ILogger logger, Uri endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The direct relay at {Endpoint} is out of reach ({Reason}); dialling again")]
    private static partial void LogLost(ILogger logger, Uri endpoint, string reason);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The direct relay at {Endpoint} refused Relay:HostToken (401): make one with `hosts add NAME` on the API host")]
    private static partial void LogRefused(ILogger logger, Uri endpoint);
}
