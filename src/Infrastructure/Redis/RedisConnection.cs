using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The one multiplexer of this process. It connects on first use and never gives up
/// (<c>AbortOnConnectFail=false</c>): while Redis is down commands fail fast, and the multiplexer reconnects and
/// re-subscribes by itself when Redis returns, so the host needs no restart.
/// </summary>
public sealed partial class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly ConfigurationOptions _configuration;
    private readonly ILogger<RedisConnection> _logger;
    private readonly Lazy<Task<ConnectionMultiplexer>> _multiplexer;
    private ConnectionMultiplexer? _connected; // set once connected, so a synchronous Dispose needs no task result

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _configuration = ParseConfiguration(options.Value.Configuration);
        CommandTimeout = TimeSpan.FromMilliseconds(Math.Max(_configuration.SyncTimeout, MinimumCommandTimeout.TotalMilliseconds));
        KeyPrefix = options.Value.KeyPrefix;
        _multiplexer = new Lazy<Task<ConnectionMultiplexer>>(ConnectAsync);
    }

    public string KeyPrefix { get; }

    /// <summary>Parses and completes a configuration string; a bad one is a <see cref="ConfigurationException"/>.</summary>
    public static ConfigurationOptions ParseConfiguration(string configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration))
        {
            throw new ConfigurationException(
                $"{RedisOptions.ConnectionStringKey} is not set; Cache:Provider=Redis needs a Redis configuration string such as 'localhost:6379'.");
        }

        ConfigurationOptions parsed;
        try
        {
            parsed = ConfigurationOptions.Parse(configuration);
        }
        catch (ArgumentException ex)
        {
            // The message names the offending option, never the password.
            throw new ConfigurationException($"{RedisOptions.ConnectionStringKey} is not a valid Redis configuration: {ex.Message}");
        }

        if (parsed.EndPoints.Count == 0)
        {
            throw new ConfigurationException($"{RedisOptions.ConnectionStringKey} names no Redis server (expected host:port).");
        }

        parsed.AbortOnConnectFail = false;
        return parsed;
    }

    /// <summary>
    /// How long a command may wait for its reply: the configuration's <c>syncTimeout</c> (which StackExchange.Redis
    /// 1.2.6 applies to synchronous calls only), but at least <see cref="MinimumCommandTimeout"/>, since this bound is
    /// against a reply lost for ever, not a slow one.
    /// </summary>
    public TimeSpan CommandTimeout { get; }

    public static readonly TimeSpan MinimumCommandTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The command's result, or a <see cref="TimeoutException"/> (an outage, to <see cref="RedisOutages"/>) once
    /// <see cref="CommandTimeout"/> has passed. StackExchange.Redis 1.2.6 never times out an asynchronous command: one
    /// whose reply is lost would otherwise be awaited for ever, and the send, heartbeat or check awaiting it with it.
    /// </summary>
    public Task<T> WithinTimeout<T>(Task<T> command) => command.WaitAsync(CommandTimeout);

    /// <inheritdoc cref="WithinTimeout{T}(Task{T})"/>
    public Task WithinTimeout(Task command) => command.WaitAsync(CommandTimeout);

    /// <summary>
    /// Subscribes <paramref name="handler"/> to <paramref name="channel"/> and completes once Redis has the
    /// subscription, so that whatever is published afterwards reaches the handler. StackExchange.Redis 1.2.6's own
    /// SubscribeAsync does not promise that: while the multiplexer's subscription connection is not established (a
    /// connect or reconnect under way) it records the handler, sends nothing and returns a completed task — the SUBSCRIBE
    /// goes out at the multiplexer's next reconfiguration, whenever that is — and for a channel that already has a
    /// handler it returns at once, answered or not. So: send it again once the subscription connection is up, then a
    /// round trip on that connection, which Redis answers after the SUBSCRIBE. With Redis unreachable this fails as a
    /// command does (<see cref="RedisConnectionException"/>), and the handler stays recorded for the multiplexer to
    /// subscribe when Redis returns; a subscription connection not up within <see cref="CommandTimeout"/> is a
    /// <see cref="TimeoutException"/>. The first SUBSCRIBE is sent before this returns its task, so a caller may call it
    /// under a lock that orders it with its own UNSUBSCRIBEs.
    /// A caller that tries again after a failure passes the same <paramref name="handler"/> (one delegate for its
    /// lifetime, not a new lambda per attempt): the failed attempt left it in the multiplexer's table, and it is taken
    /// out before it is added. Added twice, it would hear every message twice; and beside an earlier attempt's handler,
    /// taking this one out and putting it back would not send the SUBSCRIBE (the channel never lost its last handler), so
    /// every later attempt would time out while the subscription connection was still coming up at the first.
    /// </summary>
    public async Task SubscribeAsync(ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        var waited = Stopwatch.StartNew();
        // Nothing is sent when the handler is not there (a first attempt); when it is the channel's only handler, an
        // UNSUBSCRIBE that the SUBSCRIBE below follows on the same connection. Not awaited: the SUBSCRIBE still goes
        // before this returns its task.
        subscriber.Unsubscribe(channel, handler, CommandFlags.FireAndForget);
        await WithinTimeout(subscriber.SubscribeAsync(channel, handler)).ConfigureAwait(false);
        while (subscriber.SubscribedEndpoint(channel) is null && subscriber.Multiplexer.IsConnected
            && waited.Elapsed < CommandTimeout)
        {
            await Task.Delay(s_subscriptionConnectionPoll).ConfigureAwait(false);
            if (subscriber.IsConnected(channel))
            {
                // Taken out and put back, so that the multiplexer sends the SUBSCRIBE now.
                await WithinTimeout(subscriber.UnsubscribeAsync(channel, handler)).ConfigureAwait(false);
                await WithinTimeout(subscriber.SubscribeAsync(channel, handler)).ConfigureAwait(false);
            }
        }

        await WithinTimeout(subscriber.PingAsync()).ConfigureAwait(false);
        if (subscriber.SubscribedEndpoint(channel) is null)
        {
            throw new TimeoutException(
                $"Redis's subscription connection was not established within {CommandTimeout.TotalSeconds} s; the SUBSCRIBE was not sent.");
        }
    }

    private static readonly TimeSpan s_subscriptionConnectionPoll = TimeSpan.FromMilliseconds(10);

    public async Task<IDatabase> GetDatabaseAsync() => (await _multiplexer.Value).GetDatabase();

    public async Task<ISubscriber> GetSubscriberAsync() => (await _multiplexer.Value).GetSubscriber();

    /// <summary>
    /// Unsubscribes, waiting at most a moment: it is only tidiness before the connection closes, and with Redis gone
    /// StackExchange.Redis 1.2.6 may keep the call pending until it returns, which would hold up a host's shutdown.
    /// </summary>
    public async Task UnsubscribeAsync(RedisChannel channel)
    {
        var subscriber = await GetSubscriberAsync().WaitAsync(s_unsubscribeWait).ConfigureAwait(false);
        try
        {
            await subscriber.UnsubscribeAsync(channel).WaitAsync(s_unsubscribeWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Dropped with the connection.
        }
    }

    private static readonly TimeSpan s_unsubscribeWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Closes the connection, waiting at most a few seconds: a close (or a connect still under way) that StackExchange.Redis
    /// keeps pending must not hold up a host's shutdown. The close runs off the caller's thread, since the library may
    /// block in it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!_multiplexer.IsValueCreated)
        {
            return;
        }

        var close = Task.Run(async () =>
        {
            var multiplexer = await _multiplexer.Value.ConfigureAwait(false);
            await multiplexer.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            multiplexer.Dispose();
        });
        try
        {
            await close.WaitAsync(s_closeWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogCloseAbandoned(_logger, s_closeWait.TotalSeconds);
        }
    }

    private static readonly TimeSpan s_closeWait = TimeSpan.FromSeconds(10);

    public void Dispose()
    {
        _connected?.Dispose();
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_configuration.Clone());
        multiplexer.ConnectionFailed += (_, e) =>
            LogConnectionFailed(_logger, e.ConnectionType.ToString(), e.EndPoint?.ToString(), e.FailureType.ToString());
        multiplexer.ConnectionRestored += (_, e) => LogConnectionRestored(_logger, e.ConnectionType.ToString(), e.EndPoint?.ToString());
        if (!multiplexer.IsConnected)
        {
            LogNotConnectedYet(_logger);
        }

        _connected = multiplexer;
        return multiplexer;
    }

    // The connection type says which of the multiplexer's two connections it was: commands (Interactive) or events
    // (Subscription). Each is lost and restored on its own.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis {ConnectionType} connection to {EndPoint} lost ({FailureType}); retrying in the background")]
    private static partial void LogConnectionFailed(ILogger logger, string connectionType, string? endPoint, string failureType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis {ConnectionType} connection to {EndPoint} restored")]
    private static partial void LogConnectionRestored(ILogger logger, string connectionType, string? endPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis connection not closed within {Seconds} s; left to close with the process")]
    private static partial void LogCloseAbandoned(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is not reachable yet; retrying in the background")]
    private static partial void LogNotConnectedYet(ILogger logger);
}
