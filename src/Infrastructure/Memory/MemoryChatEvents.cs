using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Channels;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Memory;

/// <summary>
/// Chat-event fan-out inside one process. Each subscriber has its own bounded queue of
/// <see cref="DefaultSubscriberCapacity"/> events, so a slow reader never blocks the publisher or other readers:
/// when its queue is full the <b>oldest</b> queued event is dropped. Only deltas are normally lost that way, and the
/// final <see cref="ChatEventTypes.Message"/> event carries the whole answer. Publishing to a session nobody
/// follows costs one dictionary lookup.
/// </summary>
public sealed class MemoryChatEvents : IChatEvents
{
    public const int DefaultSubscriberCapacity = 1_000;

    private readonly ConcurrentDictionary<Guid, Topic> _topics = new();
    private readonly Lock _membership = new();
    private readonly int _subscriberCapacity;

    public MemoryChatEvents()
        : this(DefaultSubscriberCapacity)
    {
    }

    internal MemoryChatEvents(int subscriberCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(subscriberCapacity, 1);
        _subscriberCapacity = subscriberCapacity;
    }

    public ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        cancellationToken.ThrowIfCancellationRequested();

        if (_topics.TryGetValue(chatEvent.SessionId, out var topic))
        {
            topic.Publish(chatEvent);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask PublishAsync(IReadOnlyList<ChatEvent> chatEvents, CancellationToken cancellationToken)
    {
        var chatId = SessionOf(chatEvents);
        cancellationToken.ThrowIfCancellationRequested();

        if (chatId is { } id && _topics.TryGetValue(id, out var topic))
        {
            topic.Publish(chatEvents);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The one session of a unit of events; null when there are none.</summary>
    /// <exception cref="ArgumentException">The events belong to more than one session.</exception>
    internal static Guid? SessionOf(IReadOnlyList<ChatEvent> chatEvents)
    {
        ArgumentNullException.ThrowIfNull(chatEvents);
        if (chatEvents.Count == 0)
        {
            return null;
        }

        var chatId = chatEvents[0]?.SessionId ?? throw new ArgumentException("A chat event is null.", nameof(chatEvents));
        for (var i = 1; i < chatEvents.Count; i++)
        {
            var chatEvent = chatEvents[i] ?? throw new ArgumentException("A chat event is null.", nameof(chatEvents));
            if (chatEvent.SessionId != chatId)
            {
                throw new ArgumentException("Events published together must belong to one session.", nameof(chatEvents));
            }
        }

        return chatId;
    }

    public ValueTask<IChatEventSubscription> SubscribeAsync(Guid chatId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        var subscription = new Subscription(this, chatId, Channel.CreateBounded<ChatEvent>(
            new BoundedChannelOptions(_subscriberCapacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleWriter = false,
                SingleReader = false,
            }));
        lock (_membership)
        {
            _topics.GetOrAdd(chatId, static _ => new Topic()).Add(subscription);
        }

        return ValueTask.FromResult<IChatEventSubscription>(subscription);
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_membership)
        {
            if (_topics.TryGetValue(subscription.ChatId, out var topic) && topic.Remove(subscription))
            {
                _topics.TryRemove(new KeyValuePair<Guid, Topic>(subscription.ChatId, topic));
            }
        }
    }

    /// <summary>The subscribers of one session. Publishing holds its lock so every subscriber sees the same order.</summary>
    private sealed class Topic
    {
        private readonly Lock _gate = new();
        private ImmutableArray<Subscription> _subscribers = [];

        public void Publish(ChatEvent chatEvent)
        {
            lock (_gate)
            {
                foreach (var subscriber in _subscribers)
                {
                    // Never blocks: a full queue drops its oldest event; a closed one refuses silently.
                    subscriber.Channel.Writer.TryWrite(chatEvent);
                }
            }
        }

        /// <summary>All under one hold of the lock, so no other event comes between them.</summary>
        public void Publish(IReadOnlyList<ChatEvent> chatEvents)
        {
            lock (_gate)
            {
                foreach (var subscriber in _subscribers)
                {
                    foreach (var chatEvent in chatEvents)
                    {
                        subscriber.Channel.Writer.TryWrite(chatEvent);
                    }
                }
            }
        }

        public void Add(Subscription subscription)
        {
            lock (_gate)
            {
                _subscribers = _subscribers.Add(subscription);
            }
        }

        /// <summary>Removes the subscriber; true when none is left.</summary>
        public bool Remove(Subscription subscription)
        {
            lock (_gate)
            {
                _subscribers = _subscribers.Remove(subscription);
                return _subscribers.IsEmpty;
            }
        }
    }

    private sealed class Subscription(MemoryChatEvents owner, Guid chatId, Channel<ChatEvent> channel)
        : IChatEventSubscription
    {
        private int _disposed;

        public Guid ChatId => chatId;

        public Channel<ChatEvent> Channel => channel;

        public IAsyncEnumerable<ChatEvent> ReadAllAsync(CancellationToken cancellationToken) =>
            channel.Reader.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unsubscribe(this);
                channel.Writer.TryComplete();
            }

            return ValueTask.CompletedTask;
        }
    }
}
