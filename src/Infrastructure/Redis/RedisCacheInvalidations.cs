using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The one subscription of this process to <c>{prefix}cache:invalidate</c>, shared by every cache that other processes
/// must be able to clear (settings, users). A message is a topic (<c>settings</c>) or a topic and an argument
/// (<c>user:{id}</c>); each cache listens to its own topic.
/// A cache may trust its copies only while invalidations are sure to arrive (<see cref="IsListening"/>): from the moment
/// this process hears its own probe on the channel — proof that the subscription works end to end — until the
/// connection to Redis fails. A failure, and a restore, tell every cache that invalidations may have been missed.
/// </summary>
public sealed class RedisCacheInvalidations(RedisConnection connection, RedisOutages outages) : IAsyncDisposable
{
    /// <summary>How often a subscription or probe that has not worked yet is tried again (on reads, not on a timer).</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private const string ProbeTopic = "probe";

    private readonly Dictionary<string, Action<string?>> _listeners = new(StringComparer.Ordinal);
    private readonly List<Action> _lostListeners = [];
    private readonly Lock _gate = new();
    private Task? _subscribed;
    private string? _probe;
    private long _lastAttempt = long.MinValue / 2; // long ago, without overflowing a subtraction
    private volatile bool _listening;
    private volatile bool _down;
    private ISubscriber? _subscriber;

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

    /// <summary>Tells every process (this one included) about <paramref name="topic"/>; an outage is recorded, not thrown.</summary>
    public async Task PublishAsync(string topic, string? argument, string outcomeWithoutRedis)
    {
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            await subscriber.PublishAsync(Channel, argument is null ? topic : $"{topic}:{argument}");
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record($"{topic} invalidation", outcomeWithoutRedis, ex);
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
        if (Interlocked.CompareExchange(ref _subscriber, subscriber, null) is null)
        {
            subscriber.Multiplexer.ConnectionFailed += (_, _) => Lost();
            subscriber.Multiplexer.ConnectionRestored += (_, _) =>
            {
                Lost();
                _ = SendProbeAsync();
            };
        }

        await subscriber.SubscribeAsync(Channel, (_, message) => Deliver(message));
        await SendProbeAsync();
    }

    private async Task SendProbeAsync()
    {
        var probe = Guid.NewGuid().ToString("N");
        Volatile.Write(ref _probe, probe);
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            await subscriber.PublishAsync(Channel, $"{ProbeTopic}:{probe}");
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

        Action<string?>? listener;
        lock (_gate)
        {
            _listeners.TryGetValue(topic, out listener);
        }

        listener?.Invoke(argument);
    }
}
