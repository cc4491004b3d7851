using System.Net;
using System.Net.Sockets;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// The network between a model host and the server over the direct relay: a loopback TCP proxy in front of the API
/// instance that runs the relay, which the host dials instead of the instance — or in front of several, as a load
/// balancer is: each dial goes to the first that takes the connection (to the next once one is gone). A test takes it down as a real outage
/// looks from both ends (<see cref="GoDownAsync"/>): nothing passes in either direction, and neither end is told —
/// what they send waits, as TCP retransmits it, and only their own keep-alive can find the connection dead; a host
/// that dials meanwhile gets no answer either. When the network is back, the connections that were open when it went
/// down are gone (reset, as by a NAT or proxy between the two that forgot them; what waited on them is lost), and those
/// dialled during the outage go through.
/// </summary>
public sealed class HostNetwork : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint[] _servers;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Connection> _open = [];
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;
    private TaskCompletionSource _up = Up();
    private int _connections;

    public HostNetwork(params int[] serverPorts)
    {
        _servers = [.. serverPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port))];
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Where a host dials the server through this network.</summary>
    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>How many connections were made through it (a host's dial that reached the server counts once).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>
    /// The network goes down for <paramref name="outage"/>, then comes back without the connections that were open
    /// when it went down. Returns once it is back.
    /// </summary>
    public async Task GoDownAsync(TimeSpan outage)
    {
        TaskCompletionSource down;
        List<Connection> doomed;
        lock (_gate)
        {
            down = _up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            doomed = [.. _open];
        }

        await Task.Delay(outage, _stop.Token);
        foreach (var connection in doomed)
        {
            connection.Reset();
        }

        down.TrySetResult();
    }

    private static TaskCompletionSource Up()
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        up.SetResult();
        return up;
    }

    /// <summary>Completes when the network is up (at once when it is).</summary>
    private Task WhenUp()
    {
        lock (_gate)
        {
            return _up.Task.WaitAsync(_stop.Token);
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            lock (_pumps)
            {
                _pumps.RemoveAll(p => p.IsCompleted);
                _pumps.Add(RelayAsync(client));
            }
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var connection = new Connection(client);
        try
        {
            // A dial made while the network is down reaches the server only once it is back (its SYN retransmitted).
            await WhenUp();
            await connection.DialAsync(_servers, _stop.Token);
            lock (_gate)
            {
                _open.Add(connection);
            }

            Interlocked.Increment(ref _connections);
            var up = PumpAsync(connection, connection.Client, connection.Server);
            var down = PumpAsync(connection, connection.Server, connection.Client);
            // An end that closed (FIN) is passed on as such and the other direction goes on until it closes too; one that
            // broke ends both at once.
            if (!await await Task.WhenAny(up, down))
            {
                return;
            }

            await Task.WhenAll(up, down);
            connection.Close();
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The server refused (it is being restarted), or the test ends.
        }
        finally
        {
            lock (_gate)
            {
                _open.Remove(connection);
            }

            // One end broke (or the test ends): the other is told as TCP would tell it, by a reset.
            connection.Reset();
        }
    }

    /// <summary>
    /// Copies what <paramref name="from"/> sends to <paramref name="to"/> while the network is up; true when
    /// <paramref name="from"/> closed its side (passed on), false when the connection broke or was reset.
    /// </summary>
    private async Task<bool> PumpAsync(Connection connection, Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                await WhenUp();
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return true;
                }

                // Read just before the network went down: it waits with the rest, and goes with the connection.
                await WhenUp();
                if (connection.IsEnded)
                {
                    return false;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Task[] pumps;
        lock (_pumps)
        {
            pumps = [.. _pumps, _accepting];
        }

        await Task.WhenAll(pumps).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>A host's connection: its end at the host and the one this network made to the server.</summary>
    private sealed class Connection(Socket client)
    {
        private int _ended;

        public Socket Client { get; } = client;

        public Socket Server { get; private set; } = NewSocket();

        /// <summary>Connects to the first of <paramref name="servers"/> that takes it; throws when none does.</summary>
        public async Task DialAsync(IReadOnlyList<IPEndPoint> servers, CancellationToken cancellationToken)
        {
            for (var i = 0; ; i++)
            {
                try
                {
                    await Server.ConnectAsync(servers[i], cancellationToken);
                    return;
                }
                catch (SocketException) when (i < servers.Count - 1)
                {
                    // Refused (that instance is gone): the next one, on a socket of its own.
                    Server.Dispose();
                    Server = NewSocket();
                }
            }
        }

        private static Socket NewSocket() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public bool IsEnded => Volatile.Read(ref _ended) == 1;

        /// <summary>Both ends closed their side: the connection goes as TCP ends one in good order.</summary>
        public void Close()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 1)
            {
                return;
            }

            Client.Dispose();
            Server.Dispose();
        }

        /// <summary>Ends both ends with a reset (RST), not a close: neither is told the other went away in good order.</summary>
        public void Reset()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 1)
            {
                return;
            }

            foreach (var socket in new[] { Client, Server })
            {
                try
                {
                    socket.LingerState = new LingerOption(true, 0);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }

                socket.Dispose();
            }
        }
    }
}
