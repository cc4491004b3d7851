using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The one subscription of this process to <c>{prefix}cache:invalidate</c>, shared by every cache that other processes
/// must be able to clear (settings, users). A message is a topic (<c>settings</c>) or a topic and an argument
/// (<c>user:{id}</c>); each cache listens to its own topic.
/// A cache may trust its copies only while invalidations are sure to arrive (<see cref="IsListening"/>): from the moment
/// this process hears its own probe on the channel — proof that the subscription works end to end — until the
/// connection to Redis fails. A failure, and a restore, tell every cache that invalidations may have been missed.
/// A message can ask to be confirmed (<see cref="PublishConfirmedAsync"/>): every process that hears it answers once
/// its cache has dropped the row, and the writer waits for as many answers as Redis counted receivers, so a ban is in
/// force everywhere when the command that made it returns.
/// </summary>
public sealed partial class RedisCacheInvalidations(
    RedisConnection connection, RedisOutages outages, ILogger<RedisCacheInvalidations> logger) : IAsyncDisposable, IDisposable
{
    /// <summary>How often a subscription or probe that has not worked yet is tried again (on reads, not on a timer).</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a confirmed publish waits for every receiver's answer.</summary>
    public static readonly TimeSpan ConfirmationWait = TimeSpan.FromSeconds(1);

    private const string ProbeTopic = "probe";
    private const string AckTopic = "ack";
    private const char ConfirmationSeparator = '|';

    private readonly ConcurrentDictionary<string, Confirmation> _confirmations = new(StringComparer.Ordinal);

    private readonly Dictionary<string, Action<string?>> _listeners = new(StringComparer.Ordinal);
    private readonly List<Action> _lostListeners = [];
    private readonly Lock _gate = new();
    private Task? _subscribed;
    private string? _probe;
    private long _lastAttempt = long.MinValue / 2; // long ago, without overflowing a subtraction
    private volatile bool _listening;
    private volatile bool _down;
    private ISubscriber? _subscriber;
    private Action<RedisChannel, RedisValue>? _deliver;

    public RedisChannel Channel => new($"{connection.KeyPrefix}cache:invalidate", RedisChannel.PatternMode.Literal);

    /// <summary>True while every invalidation published by another process reaches this one (see the class summary).</summary>
    public bool IsListening
    {
        get
        {
            if (_listening)
            {
                return true;
            }

            _ = TryStartAsync();
            return false;
        }
    }

    /// <summary>True when the last attempt to listen failed or the connection was lost (not while first starting).</summary>
    public bool IsDown => _down && !_listening;

    /// <summary><paramref name="listener"/> hears every message of <paramref name="topic"/>, with its argument if any.</summary>
    public void Listen(string topic, Action<string?> listener)
    {
        lock (_gate)
        {
            _listeners[topic] = _listeners.TryGetValue(topic, out var others) ? others + listener : listener;
        }
    }

    /// <summary><paramref name="listener"/> is told when invalidations may have been missed (Redis lost or back).</summary>
    public void OnLost(Action listener)
    {
        lock (_gate)
        {
            _lostListeners.Add(listener);
        }
    }

    /// <summary>Subscribes if not yet done; an outage is thrown (the caller records what it does without Redis).</summary>
    public Task EnsureSubscribedAsync()
    {
        lock (_gate)
        {
            if (_subscribed is null || _subscribed.IsFaulted || _subscribed.IsCanceled)
            {
                _lastAttempt = Environment.TickCount64;
                _subscribed = SubscribeAsync();
            }

            return _subscribed;
        }
    }

    /// <summary>
    /// Tells every process (this one included) about <paramref name="topic"/> and returns once every process that
    /// received the message has acted on it (or after <see cref="ConfirmationWait"/>, logged). An outage is recorded,
    /// not thrown: the other processes then rely on their copies' lifetime.
    /// </summary>
    public async Task PublishConfirmedAsync(string topic, string argument, string outcomeWithoutRedis)
    {
        var nonce = Guid.NewGuid().ToString("N");
        var confirmation = new Confirmation();
        _confirmations[nonce] = confirmation;
        try
        {
            // The answers come back on this process's own subscription.
            await EnsureSubscribedAsync();
            var subscriber = await connection.GetSubscriberAsync();
            var receivers = await connection.WithinTimeout(subscriber.PublishAsync(Channel, $"{topic}:{argument}{ConfirmationSeparator}{nonce}"));
            if (!await confirmation.WaitAsync(receivers, ConfirmationWait))
            {
                LogUnconfirmed(logger, topic, receivers, confirmation.Answers, ConfirmationWait.TotalMilliseconds);
            }
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record($"{topic} invalidation", outcomeWithoutRedis, ex);
        }
        finally
        {
            _confirmations.TryRemove(nonce, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_subscribed is { IsCompletedSuccessfully: true })
        {
            try
            {
                await connection.UnsubscribeAsync(Channel);
            }
            catch (Exception ex) when (RedisOutages.IsOutage(ex))
            {
            }
        }
    }

    /// <summary>Synchronous disposal leaves the subscription to the multiplexer, which drops it when it closes.</summary>
    public void Dispose()
    {
    }

    /// <summary>Starts listening, or tries again at most once per <see cref="RetryInterval"/>.</summary>
    private async Task TryStartAsync()
    {
        lock (_gate)
        {
            var now = Environment.TickCount64;
            if (_subscribed is { IsCompleted: false } || now - _lastAttempt < RetryInterval.TotalMilliseconds)
            {
                return;
            }

            _lastAttempt = now;
        }

        try
        {
            // Subscribing sends the first probe; once subscribed, a probe whose echo never came is sent again.
            var subscribed = EnsureSubscribedAsync();
            if (subscribed.IsCompletedSuccessfully)
            {
                await SendProbeAsync();
            }
            else
            {
                await subscribed;
            }
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            _down = true;
            outages.Record("cache invalidation subscribe", "caches read through until Redis returns", ex);
        }
    }

    private async Task SubscribeAsync()
    {
        var subscriber = await connection.GetSubscriberAsync();
        if (Interlocked.CompareExchange(ref _subscriber, subscriber, null) is not null)
        {
            // An attempt before this one failed, perhaps after its SUBSCRIBE reached Redis and a probe came back: what
            // was heard until this one is confirmed is not sure to be all, so no copy is trusted meanwhile.
            Lost();
        }
        else
        {
            subscriber.Multiplexer.ConnectionFailed += (_, _) => Lost();
            subscriber.Multiplexer.ConnectionRestored += (_, _) =>
            {
                Lost();
                _ = SendProbeAsync();
            };
        }

        // Confirmed: the probe below, and an invalidation published right after, find the subscription in place.
        // One handler for every attempt (see RedisConnection.SubscribeAsync); attempts run one at a time.
        _deliver ??= (_, message) => Deliver(message);
        await connection.SubscribeAsync(subscriber, Channel, _deliver);
        await SendProbeAsync();
    }

    private async Task SendProbeAsync()
    {
        var probe = Guid.NewGuid().ToString("N");
        Volatile.Write(ref _probe, probe);
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            await connection.WithinTimeout(subscriber.PublishAsync(Channel, $"{ProbeTopic}:{probe}"));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            _down = true;
            outages.Record("cache invalidation probe", "caches read through until Redis returns", ex);
        }
    }

    private void Lost()
    {
        _listening = false;
        _down = true;
        Action[] listeners;
        lock (_gate)
        {
            listeners = [.. _lostListeners];
        }

        foreach (var listener in listeners)
        {
            listener();
        }
    }

    private void Deliver(RedisValue message)
    {
        var text = (string?)message;
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        string? nonce = null;
        var separator = text.LastIndexOf(ConfirmationSeparator);
        if (separator >= 0)
        {
            nonce = text[(separator + 1)..];
            text = text[..separator];
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var topic = colon < 0 ? text : text[..colon];
        var argument = colon < 0 ? null : text[(colon + 1)..];
        if (topic == ProbeTopic)
        {
            if (argument is not null && argument == Volatile.Read(ref _probe))
            {
                _down = false;
                _listening = true;
            }

            return;
        }

        if (topic == AckTopic)
        {
            if (argument is not null && _confirmations.TryGetValue(argument, out var confirmation))
            {
                confirmation.Answered();
            }

            return;
        }

        Action<string?>? listener;
        lock (_gate)
        {
            _listeners.TryGetValue(topic, out listener);
        }

        listener?.Invoke(argument);
        if (nonce is not null)
        {
            _ = AnswerAsync(nonce);
        }
    }

    private async Task AnswerAsync(string nonce)
    {
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            await subscriber.PublishAsync(Channel, $"{AckTopic}:{nonce}", CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("cache invalidation answer", "the writer stops waiting after a moment", ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A {Topic} invalidation reached {Receivers} processes but {Answers} answered within {WaitMs} ms; the others drop the row when they get to it")]
    private static partial void LogUnconfirmed(ILogger logger, string topic, long receivers, int answers, double waitMs);

    /// <summary>Answers counted before and after Redis says how many to expect (an answer can come first).</summary>
    private sealed class Confirmation
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _answers;
        private long _expected = -1;

        public int Answers => Volatile.Read(ref _answers);

        public void Answered()
        {
            Interlocked.Increment(ref _answers);
            Check();
        }

        public async Task<bool> WaitAsync(long expected, TimeSpan wait)
        {
            Interlocked.Exchange(ref _expected, expected);
            Check();
            try
            {
                await _all.Task.WaitAsync(wait);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        private void Check()
        {
            var expected = Interlocked.Read(ref _expected);
            if (expected >= 0 && Volatile.Read(ref _answers) >= expected)
            {
                _all.TrySetResult();
            }
        }
    }
}
