using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// Chat events over Redis pub/sub, one channel per session, so a client streaming from any API instance sees what
/// any instance publishes. Each instance subscribes to a session's channel once, while at least one of its own
/// clients follows that session, and fans events out locally through a <see cref="MemoryChatEvents"/> (same ordering
/// and slow-reader rules). Pub/sub keeps nothing: an event published while Redis is down is lost (recorded by
/// <see cref="RedisOutages"/>), which the final stored message makes good — clients reload it from the API.
/// </summary>
public sealed class RedisChatEvents(RedisConnection connection, RedisOutages outages) : IChatEvents, IAsyncDisposable, IDisposable
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly MemoryChatEvents _local = new();
    private readonly Dictionary<Guid, Channel> _channels = [];
    private readonly SemaphoreSlim _membership = new(1, 1);

    public async ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        cancellationToken.ThrowIfCancellationRequested();
        var payload = JsonSerializer.SerializeToUtf8Bytes(chatEvent, s_json);
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            await subscriber.PublishAsync(ChannelFor(chatEvent.SessionId), payload);
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
        Task subscribed;
        await _membership.WaitAsync(cancellationToken);
        try
        {
            // Only issuing the SUBSCRIBE is serialized (so it stays in order with an UNSUBSCRIBE of the same channel);
            // its round trip is awaited outside, so many sessions subscribe at once.
            if (!_channels.TryGetValue(sessionId, out var channel))
            {
                channel = new Channel(ChannelFor(sessionId));
                var subscriber = await connection.GetSubscriberAsync();
                channel.Subscribed = Issue(() => subscriber.SubscribeAsync(channel.Name, (_, message) => Deliver(message)));
                _channels.Add(sessionId, channel);
            }

            channel.Followers++;
            subscribed = channel.Subscribed;
        }
        catch
        {
            await local.DisposeAsync();
            throw;
        }
        finally
        {
            _membership.Release();
        }

        var subscription = new Subscription(this, sessionId, local);
        try
        {
            await subscribed;
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            // The multiplexer keeps the handler and subscribes again when Redis is back.
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
        await _membership.WaitAsync();
        try
        {
            var subscriber = await connection.GetSubscriberAsync();
            foreach (var channel in _channels.Values)
            {
                await TryUnsubscribeAsync(subscriber, channel.Name);
            }

            _channels.Clear();
        }
        finally
        {
            _membership.Release();
        }
    }

    /// <summary>Synchronous disposal leaves the subscriptions to the multiplexer, which drops them when it closes.</summary>
    public void Dispose()
    {
        lock (_channels)
        {
            _channels.Clear();
        }
    }

    private string ChannelFor(Guid sessionId) => $"{connection.KeyPrefix}chat:{sessionId:N}";

    private void Deliver(RedisValue message)
    {
        ChatEvent? chatEvent;
        try
        {
            chatEvent = JsonSerializer.Deserialize<ChatEvent>((byte[])message!, s_json);
        }
        catch (JsonException)
        {
            return; // not ours; nothing a client could use
        }

        if (chatEvent is not null)
        {
            // The local bus never blocks and never throws for a live subscriber.
            _ = _local.PublishAsync(chatEvent, CancellationToken.None);
        }
    }

    private async Task LeaveAsync(Guid sessionId)
    {
        Task unsubscribed;
        await _membership.WaitAsync();
        try
        {
            if (!_channels.TryGetValue(sessionId, out var channel) || --channel.Followers > 0)
            {
                return;
            }

            _channels.Remove(sessionId);
            unsubscribed = TryUnsubscribeAsync(await connection.GetSubscriberAsync(), channel.Name);
        }
        finally
        {
            _membership.Release();
        }

        await unsubscribed;
    }

    /// <summary>A command whose sending failed at once becomes a failed task, handled where the task is awaited.</summary>
    private static Task Issue(Func<Task> send)
    {
        try
        {
            return send();
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }
    }

    private async Task TryUnsubscribeAsync(ISubscriber subscriber, string channel)
    {
        try
        {
            await subscriber.UnsubscribeAsync(channel);
        }
        catch (Exception ex) when (RedisOutages.IsOutage(ex))
        {
            outages.Record("chat-event unsubscribe", "dropped locally", ex);
        }
    }

    private sealed class Channel(string name)
    {
        public string Name { get; } = name;

        public Task Subscribed { get; set; } = Task.CompletedTask;

        public int Followers { get; set; }
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
                await owner.LeaveAsync(sessionId);
            }
        }
    }
}
