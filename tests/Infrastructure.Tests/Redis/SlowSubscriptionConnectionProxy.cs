using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// A loopback TCP proxy in front of Redis that holds back Redis's replies on a multiplexer's subscription connection
/// until <see cref="Release"/>: that connection then stays "establishing", as it does on a loaded machine when it comes
/// up after the interactive one. A connection is the subscription connection when the client's first write holds a
/// SUBSCRIBE (StackExchange.Redis 1.2.6 ends that connection's handshake with one; the interactive connection never
/// sends it). Every other connection is passed through untouched.
/// </summary>
public sealed class SlowSubscriptionConnectionProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _redis;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;
    private int _held;

    public SlowSubscriptionConnectionProxy(string redisEndpoint)
    {
        var (host, port) = (redisEndpoint[..redisEndpoint.LastIndexOf(':')], redisEndpoint[(redisEndpoint.LastIndexOf(':') + 1)..]);
        _redis = new IPEndPoint(IPAddress.Parse(host), int.Parse(port, System.Globalization.CultureInfo.InvariantCulture));
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>How many subscription connections had their replies held.</summary>
    public int SubscriptionConnectionsHeld => Volatile.Read(ref _held);

    /// <summary>Lets the held replies through, and every later one.</summary>
    public void Release() => _released.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }

        Task[] pumps;
        lock (_pumps)
        {
            pumps = [.. _pumps];
        }

        await Task.WhenAll(pumps.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            lock (_pumps)
            {
                _pumps.Add(RelayAsync(client));
            }
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            await server.ConnectAsync(_redis, _stop.Token);
            var toClient = client.GetStream();
            var toServer = server.GetStream();
            var classified = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var upstream = CopyAsync(toClient, toServer, first =>
            {
                var subscription = Encoding.ASCII.GetString(first).Contains("SUBSCRIBE", StringComparison.Ordinal);
                if (subscription)
                {
                    Interlocked.Increment(ref _held);
                }

                classified.TrySetResult(subscription);
            });
            var downstream = HeldCopyAsync(toServer, toClient, classified.Task);
            try
            {
                await Task.WhenAny(upstream, downstream);
            }
            finally
            {
                classified.TrySetResult(false);
                client.Close();
                server.Close();
            }
        }
    }

    /// <summary>Redis's replies; on a subscription connection only once released.</summary>
    private async Task HeldCopyAsync(Stream from, Stream to, Task<bool> isSubscription)
    {
        if (await isSubscription)
        {
            await _released.Task.WaitAsync(_stop.Token);
        }

        await CopyAsync(from, to, null);
    }

    /// <summary>Copies until either side closes; the first chunk is shown to <paramref name="onFirst"/> before it is sent.</summary>
    private async Task CopyAsync(Stream from, Stream to, Action<byte[]>? onFirst)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (onFirst is not null)
                {
                    onFirst(buffer[..read]);
                    onFirst = null;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            // One side went away: the relay ends.
        }
    }
}
