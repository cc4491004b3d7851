using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Chat events over Redis pub/sub, one channel per session (<c>{prefix}chat:{session}</c>), so a client streaming from
/// any API instance sees what any instance publishes. Each instance holds one pattern subscription
/// (<c>PSUBSCRIBE {prefix}chat:*</c>), made on first use and shared by every stream and every <c>?wait=true</c>: joining
/// or leaving a session costs no round trip to Redis. An event for a session none of this instance's clients follows
/// is dropped by its channel name, without being read; the others are fanned out locally through a
/// <see cref="MemoryChatEvents"/> (same ordering and slow-reader rules). The price is that every instance receives
/// every session's events, which is cheap for a few instances. Pub/sub keeps nothing: an event published while Redis
/// is down is lost (recorded by <see cref="RedisOutages"/>), which the final stored message makes good — clients reload
/// it from the API, and <c>?wait=true</c> looks at the stored request when no event comes.
/// </summary>
public sealed class RedisChatEvents(RedisConnection connection, RedisOutages outages) : IChatEvents, IAsyncDisposable, IDisposable
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly MemoryChatEvents _local = new();
    private readonly Dictionary<Guid, int> _followers = [];
    private readonly Lock _gate = new();
    private Task? _subscribed;

    private string Prefix => $"{connection.KeyPrefix}chat:";

    public async ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        cancellationToken.ThrowIfCancellationRequested();
        var payload = JsonSerializer.SerializeToUtf8Bytes(chatEvent, s_json);
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            // Connected: written without waiting for Redis's count of receivers, which nothing uses (no task to
            // complete and no continuation to schedule per event). Not connected: the awaited publish fails and the
            // event goes to this instance's own clients below.
            var flags = subscriber.Multiplexer.IsConnected ? CommandFlags.FireAndForget : CommandFlags.None;
            await subscriber.PublishAsync(ChannelFor(chatEvent.SessionId), payload, flags);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // Delivered to this instance's own clients at least; the stored message covers the rest.
            outages.Record("chat-event publish", "delivered on this instance only", ex);
            await _local.PublishAsync(chatEvent, cancellationToken);
        }
    }

    public async ValueTask<IChatEventSubscription> SubscribeAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var local = await _local.SubscribeAsync(sessionId, cancellationToken);
        lock (_gate)
        {
            _followers[sessionId] = _followers.GetValueOrDefault(sessionId) + 1;
        }

        var subscription = new Subscription(this, sessionId, local);
        try
        {
            await EnsureSubscribedAsync();
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // Tried again by the next subscriber; once made, the multiplexer renews it after every reconnect.
            outages.Record("chat-event subscribe", "subscribed once Redis returns", ex);
        }
        catch
        {
            await subscription.DisposeAsync();
            throw;
        }

        return subscription;
    }

    public async ValueTask DisposeAsync()
    {
        Dispose();
        if (_subscribed is { IsCompletedSuccessfully: true })
        {
            try
            {
                await connection.UnsubscribeAsync(new RedisChannel(Prefix + "*", RedisChannel.PatternMode.Pattern));
            }
            catch (Exception ex) when (RedisOutages.IsOutage(ex))
            {
                outages.Record("chat-event unsubscribe", "dropped locally", ex);
            }
        }
    }

    /// <summary>Synchronous disposal leaves the subscription to the multiplexer, which drops it when it closes.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _followers.Clear();
        }
    }

    private string ChannelFor(Guid sessionId) => $"{Prefix}{sessionId:N}";

    private Task EnsureSubscribedAsync()
    {
        lock (_gate)
        {
            if (_subscribed is null || _subscribed.IsFaulted || _subscribed.IsCanceled)
            {
                _subscribed = SubscribePatternAsync();
            }

            return _subscribed;
        }
    }

    private async Task SubscribePatternAsync()
    {
        var subscriber = await connection.GetSubscriberAsync();
        await subscriber.SubscribeAsync(new RedisChannel(Prefix + "*", RedisChannel.PatternMode.Pattern), Deliver);
    }

    private void Deliver(RedisChannel channel, RedisValue message)
    {
        var name = (string)channel!;
        if (name is null || !name.StartsWith(Prefix, StringComparison.Ordinal)
            || !Guid.TryParseExact(name.AsSpan(Prefix.Length), "N", out var sessionId))
        {
            return;
        }

        lock (_gate)
        {
            if (!_followers.ContainsKey(sessionId))
            {
                return; // nobody here follows this session
            }
        }

        ChatEvent? chatEvent;
        try
        {
            chatEvent = JsonSerializer.Deserialize<ChatEvent>((byte[])message!, s_json);
        }
        catch (JsonException)
        {
            return; // not ours; nothing a client could use
        }

        if (chatEvent is not null && chatEvent.SessionId == sessionId)
        {
            // The local bus never blocks and never throws for a live subscriber.
            _ = _local.PublishAsync(chatEvent, CancellationToken.None);
        }
    }

    private void Leave(Guid sessionId)
    {
        lock (_gate)
        {
            if (_followers.TryGetValue(sessionId, out var count))
            {
                if (count <= 1)
                {
                    _followers.Remove(sessionId);
                }
                else
                {
                    _followers[sessionId] = count - 1;
                }
            }
        }
    }

    private sealed class Subscription(RedisChatEvents owner, Guid sessionId, IChatEventSubscription local)
        : IChatEventSubscription
    {
        private int _disposed;

        public IAsyncEnumerable<ChatEvent> ReadAllAsync(CancellationToken cancellationToken) =>
            local.ReadAllAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await local.DisposeAsync();
                owner.Leave(sessionId);
            }
        }
    }
}
