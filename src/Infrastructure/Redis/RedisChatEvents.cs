using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Chat events over Redis pub/sub, one channel per session (<c>{prefix}chat:{session}</c>), so a client streaming from
/// any API instance sees what any instance publishes, and an instance receives only the events of the sessions its own
/// clients follow: with several instances, an event is delivered once per instance that serves the session, not once
/// per instance. Each delivery costs the instance a socket read and a thread wake-up, which is why it matters.
/// <para>
/// An instance SUBSCRIBEs to a session's channel when its first client of that session joins, and awaits Redis's
/// confirmation, so events published after <see cref="SubscribeAsync"/> returns are delivered; a second client joining
/// meanwhile awaits the same SUBSCRIBE. When the last client leaves, the channel lingers
/// (<see cref="RedisOptions.ChatSubscriptionLinger"/>, 30 s by default) before one timer UNSUBSCRIBEs it: a chat asks
/// one message after another, each <c>?wait=true</c> joining and leaving, and a client joining a lingering channel
/// needs no round trip — a chat costs one SUBSCRIBE and one UNSUBSCRIBE, not a pair per message. While a channel
/// lingers its events arrive but are dropped by channel name, unread.
/// </para>
/// <para>
/// Events published together (<see cref="PublishAsync(IReadOnlyList{ChatEvent}, CancellationToken)"/>) travel as one
/// PUBLISH whose payload is a JSON array; a single event is a JSON object, as before arrays existed, so instances of the
/// previous version publishing to this one are understood. The reverse is not true: roll API instances out before the
/// relay (server bot), whose answers are published together. Received events are fanned out locally through a
/// <see cref="MemoryChatEvents"/> (same ordering and slow-reader rules).
/// </para>
/// <para>
/// Pub/sub keeps nothing: an event published while Redis is down is lost (recorded by <see cref="RedisOutages"/>) and
/// delivered to this instance's own clients only, which the final stored message makes good — clients reload it from
/// the API, and <c>?wait=true</c> looks at the stored request when no event comes. So that a client whose stream stayed
/// open through the outage reloads too, every subscription made before this instance's pub/sub connection came back
/// says so then (<see cref="IChatEventSubscription.EventsMissed"/>): a chat stream closes, and its client reconnects and
/// reads the newest messages, as after any drop. The subscription itself goes on. A SUBSCRIBE that failed is tried
/// again by the session's next client; once made, the multiplexer renews it after every reconnect.
/// </para>
/// </summary>
public sealed class RedisChatEvents : IChatEvents, IAsyncDisposable, IDisposable
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly RedisConnection _connection;
    private readonly RedisOutages _outages;
    private readonly long _lingerMs;
    private readonly string _prefix;
    private readonly MemoryChatEvents _local = new();
    private readonly Dictionary<Guid, ChatChannel> _channels = [];
    private readonly Lock _gate = new(); // guards _channels, their counts and tasks, the sweep timer and _disposed
    private readonly Action<RedisChannel, RedisValue> _deliver;
    private readonly Timer _sweep;
    private bool _sweepArmed;
    private bool _disposed;
    private ISubscriber? _subscriber;
    private CancellationTokenSource _missed = new();

    /// <summary>1 from a failure of the pub/sub connection until its return.</summary>
    private int _subscriptionLost;
    private long _subscribesSent;
    private long _payloadsReceived;

    public RedisChatEvents(RedisConnection connection, RedisOutages outages, IOptions<RedisOptions> options)
        : this(connection, outages, (options ?? throw new ArgumentNullException(nameof(options))).Value.ChatSubscriptionLinger)
    {
    }

    internal RedisChatEvents(RedisConnection connection, RedisOutages outages, TimeSpan linger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentOutOfRangeException.ThrowIfLessThan(linger, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linger, RedisOptions.MaxChatSubscriptionLinger);
        _connection = connection;
        _outages = outages;
        _lingerMs = (long)linger.TotalMilliseconds;
        _prefix = $"{connection.KeyPrefix}chat:";
        _deliver = Deliver;
        _sweep = new Timer(static state => ((RedisChatEvents)state!).Sweep(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>SUBSCRIBE commands this instance has sent, for tests that check a rejoin costs none.</summary>
    internal long SubscribesSent => Interlocked.Read(ref _subscribesSent);

    /// <summary>Payloads Redis has delivered to this instance, for tests that check what an instance is sent.</summary>
    internal long PayloadsReceived => Interlocked.Read(ref _payloadsReceived);

    public ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        cancellationToken.ThrowIfCancellationRequested();
        return PublishAsync(chatEvent.SessionId, JsonSerializer.SerializeToUtf8Bytes(chatEvent, s_json), chatEvent, null,
            cancellationToken);
    }

    public ValueTask PublishAsync(IReadOnlyList<ChatEvent> chatEvents, CancellationToken cancellationToken)
    {
        var chatId = MemoryChatEvents.SessionOf(chatEvents);
        cancellationToken.ThrowIfCancellationRequested();
        return chatId switch
        {
            null => ValueTask.CompletedTask,
            // One event goes as the single-event payload every version reads.
            _ when chatEvents.Count == 1 => PublishAsync(chatEvents[0], cancellationToken),
            { } id => PublishAsync(id, JsonSerializer.SerializeToUtf8Bytes(chatEvents, s_json), null, chatEvents,
                cancellationToken),
        };
    }

    public async ValueTask<IChatEventSubscription> SubscribeAsync(Guid chatId, CancellationToken cancellationToken)
    {
        var local = await _local.SubscribeAsync(chatId, cancellationToken);
        var subscription = new Subscription(this, chatId, local, Volatile.Read(ref _missed).Token);
        try
        {
            await JoinAsync(chatId);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // Tried again by the session's next subscriber; once made, the multiplexer renews it after every reconnect.
            _outages.Record("chat-event subscribe", "subscribed once Redis returns", ex);
        }
        catch
        {
            await subscription.DisposeAsync();
            throw;
        }

        return subscription;
    }

    /// <summary>Unsubscribes every channel this instance holds (without waiting for Redis's answer).</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var chatId in _channels.Keys)
            {
                Unsubscribe(chatId);
            }

            _channels.Clear();
        }

        _sweep.Dispose();
    }

    private async ValueTask PublishAsync(Guid chatId, byte[] payload, ChatEvent? single,
        IReadOnlyList<ChatEvent>? together, CancellationToken cancellationToken)
    {
        try
        {
            var subscriber = _subscriber ?? await SubscriberAsync();
            // Connected: written without waiting for Redis's count of receivers, which nothing uses (no task to
            // complete and no continuation to schedule per event). Not connected: the awaited publish fails and the
            // events go to this instance's own clients below.
            var flags = subscriber.Multiplexer.IsConnected ? CommandFlags.FireAndForget : CommandFlags.None;
            await _connection.WithinTimeout(subscriber.PublishAsync(ChannelFor(chatId), payload, flags));
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // Delivered to this instance's own clients at least; the stored message covers the rest.
            _outages.Record("chat-event publish", "delivered on this instance only", ex);
            if (single is not null)
            {
                await _local.PublishAsync(single, cancellationToken);
            }
            else
            {
                await _local.PublishAsync(together!, cancellationToken);
            }
        }
    }

    /// <summary>The multiplexer's subscriber, watched from the first time it is taken for its pub/sub connection's return.</summary>
    private async Task<ISubscriber> SubscriberAsync()
    {
        var subscriber = await _connection.GetSubscriberAsync();
        if (Interlocked.CompareExchange(ref _subscriber, subscriber, null) is null)
        {
            // Only a return after a loss: StackExchange.Redis 1.2.6 also raises ConnectionRestored when the subscription
            // connection is first established after the multiplexer's connect returned (seen under load in CI), and
            // nothing can have been missed then.
            subscriber.Multiplexer.ConnectionFailed += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Subscription)
                {
                    Volatile.Write(ref _subscriptionLost, 1);
                }
            };
            subscriber.Multiplexer.ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Subscription && Interlocked.Exchange(ref _subscriptionLost, 0) == 1)
                {
                    EndSubscriptionsThatMayHaveMissedEvents();
                }
            };
        }

        return _subscriber;
    }

    /// <summary>
    /// Events published elsewhere while the pub/sub connection was away never come: the subscriptions made before its
    /// return say so (<see cref="IChatEventSubscription.EventsMissed"/>).
    /// </summary>
    internal void EndSubscriptionsThatMayHaveMissedEvents()
    {
        // Not disposed: a subscription may be reading its token this moment.
        Interlocked.Exchange(ref _missed, new CancellationTokenSource()).Cancel();
    }

    private RedisChannel ChannelFor(Guid chatId) => new($"{_prefix}{chatId:N}", RedisChannel.PatternMode.Literal);

    /// <summary>
    /// Counts a follower of the session at once (before anything is awaited, so that the subscription's disposal always
    /// has a count to take back); the task completes once the session's channel is subscribed.
    /// </summary>
    private Task JoinAsync(Guid chatId)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_channels.TryGetValue(chatId, out var channel))
            {
                _channels.Add(chatId, channel = new ChatChannel());
            }

            channel.Followers++;
            if (channel.Subscribed is not { } made || made.IsFaulted || made.IsCanceled)
            {
                // Sent under the gate, so that a sweep never lets the channel go between this and the multiplexer's
                // table; before the first connection the SUBSCRIBE waits for it, and a sweep waits for the SUBSCRIBE.
                channel.Subscribed = _subscriber is { } subscriber
                    ? Subscribe(subscriber, chatId)
                    : SubscribeWhenConnectedAsync(chatId);
            }

            return channel.Subscribed;
        }
    }

    private async Task SubscribeWhenConnectedAsync(Guid chatId)
    {
        var subscriber = _subscriber ?? await SubscriberAsync();
        Task subscribed;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            subscribed = Subscribe(subscriber, chatId);
        }

        await subscribed;
    }

    /// <summary>
    /// Sends SUBSCRIBE (called under the gate); the task completes when Redis has it
    /// (<see cref="RedisConnection.SubscribeAsync"/>: the multiplexer's own task may complete before; after a failed
    /// attempt it takes out the handler that attempt left, so it is never there twice).
    /// </summary>
    private Task Subscribe(ISubscriber subscriber, Guid chatId)
    {
        Interlocked.Increment(ref _subscribesSent);
        // A failure is in the task: awaited by every follower waiting for it, tried again by the next one.
        return _connection.SubscribeAsync(subscriber, ChannelFor(chatId), _deliver);
    }

    /// <summary>Sends UNSUBSCRIBE for our handler (called under the gate) without waiting for Redis's answer.</summary>
    private void Unsubscribe(Guid chatId)
    {
        try
        {
            _subscriber?.Unsubscribe(ChannelFor(chatId), _deliver, CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Tidiness only, and called from the sweep's timer, where an exception would end the process. The
            // multiplexer has forgotten the channel, so it will not renew it; Redis drops it with the connection.
            _outages.Record("chat-event unsubscribe", "dropped locally", ex);
        }
    }

    private void Leave(Guid chatId)
    {
        lock (_gate)
        {
            if (!_channels.TryGetValue(chatId, out var channel) || --channel.Followers > 0)
            {
                return;
            }

            channel.IdleSince = Environment.TickCount64;
            if (!_sweepArmed && !_disposed)
            {
                _sweepArmed = true;
                _sweep.Change(_lingerMs, Timeout.Infinite);
            }
        }
    }

    /// <summary>
    /// Unsubscribes the channels that have had no follower for the linger, and sets the timer for the next one to
    /// expire. A channel whose SUBSCRIBE is still in flight waits for it, so that no subscription is made after its
    /// channel was let go.
    /// </summary>
    private void Sweep()
    {
        lock (_gate)
        {
            _sweepArmed = false;
            if (_disposed)
            {
                return;
            }

            var now = Environment.TickCount64;
            long? nextInMs = null;
            List<Guid>? expired = null;
            foreach (var (chatId, channel) in _channels)
            {
                if (channel.Followers > 0)
                {
                    continue;
                }

                var remaining = channel.IdleSince + _lingerMs - now;
                if (remaining > 0 || channel.Subscribed is { IsCompleted: false })
                {
                    // A SUBSCRIBE still in flight (Redis slow or away) is looked at again in a second. Channels expiring
                    // within a tenth of the linger of each other are let go by one sweep.
                    nextInMs = Math.Min(nextInMs ?? long.MaxValue, remaining > 0 ? Math.Max(remaining, _lingerMs / 10) : 1_000);
                }
                else
                {
                    (expired ??= []).Add(chatId);
                }
            }

            foreach (var chatId in expired ?? [])
            {
                _channels.Remove(chatId);
                Unsubscribe(chatId);
            }

            if (nextInMs is { } due)
            {
                _sweepArmed = true;
                _sweep.Change(due, Timeout.Infinite);
            }
        }
    }

    private void Deliver(RedisChannel channel, RedisValue message)
    {
        Interlocked.Increment(ref _payloadsReceived);
        var name = (string)channel!;
        if (name is null || !name.StartsWith(_prefix, StringComparison.Ordinal)
            || !Guid.TryParseExact(name.AsSpan(_prefix.Length), "N", out var chatId))
        {
            return;
        }

        lock (_gate)
        {
            if (!_channels.TryGetValue(chatId, out var followed) || followed.Followers == 0)
            {
                return; // lingering: nobody here follows this session at the moment
            }
        }

        var payload = (byte[])message!;
        try
        {
            if (IsArray(payload))
            {
                var chatEvents = JsonSerializer.Deserialize<ChatEvent[]>(payload, s_json);
                if (chatEvents is { Length: > 0 } && Array.TrueForAll(chatEvents, e => e?.SessionId == chatId))
                {
                    // The local bus never blocks and never throws for a live subscriber.
                    _ = _local.PublishAsync(chatEvents, CancellationToken.None);
                }
            }
            else if (JsonSerializer.Deserialize<ChatEvent>(payload, s_json) is { } chatEvent && chatEvent.SessionId == chatId)
            {
                _ = _local.PublishAsync(chatEvent, CancellationToken.None);
            }
        }
        catch (JsonException)
        {
            // Not ours; nothing a client could use.
        }
    }

    private static bool IsArray(byte[]? payload)
    {
        foreach (var b in payload ?? [])
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return b == (byte)'[';
            }
        }

        return false;
    }

    /// <summary>A session's channel on this instance: how many local clients follow it, and its SUBSCRIBE.</summary>
    private sealed class ChatChannel
    {
        public int Followers;

        public Task? Subscribed;

        /// <summary><see cref="Environment.TickCount64"/> when the last follower left.</summary>
        public long IdleSince;
    }

    /// <param name="missed">Cancelled when events of this subscription may have been lost (<see cref="EventsMissed"/>).</param>
    private sealed class Subscription(RedisChatEvents owner, Guid chatId, IChatEventSubscription local,
        CancellationToken missed) : IChatEventSubscription
    {
        private int _disposed;

        public CancellationToken EventsMissed => missed;

        public IAsyncEnumerable<ChatEvent> ReadAllAsync(CancellationToken cancellationToken) =>
            local.ReadAllAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await local.DisposeAsync();
                owner.Leave(chatId);
            }
        }
    }
}
