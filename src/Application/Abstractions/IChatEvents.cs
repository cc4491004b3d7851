
namespace MeatLizard.Application.Abstractions;

/// <summary>Fan-out of chat events to every connected client of a session, on every API instance.</summary>
public interface IChatEvents
{
    ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes events of ONE session that belong together (an answer and its final status) as one unit: subscribers
    /// receive them in this order, exactly as if they had been published one by one, and no event published meanwhile
    /// comes between them. A bus may carry them as one message (Redis: one PUBLISH), which is why they are handed over
    /// together. Events of different sessions are refused (<see cref="ArgumentException"/>); an empty list does nothing.
    /// </summary>
    ValueTask PublishAsync(IReadOnlyList<ChatEvent> chatEvents, CancellationToken cancellationToken);

    /// <summary>Events published after this call returns are delivered, in order, until disposed.</summary>
    ValueTask<IChatEventSubscription> SubscribeAsync(Guid chatId, CancellationToken cancellationToken);
}
