using MeatLizard.Application.Common.Models;

namespace MeatLizard.Application.Abstractions;

public static class ChatEventTypes
{
    /// <summary>A piece of the answer being generated.</summary>
    public const string Delta = "delta";

    /// <summary>A stored message (the answer, a fallback reply or a notice).</summary>
    public const string Message = "message";

    /// <summary>Where a request stands (queued, dispatched, streaming, cancelled, …).</summary>
    public const string Status = "status";

    /// <summary>A request failed; the text is safe to show.</summary>
    public const string Error = "error";
}

/// <summary>
/// What a client streaming a session sees. Flat so every bus (in-memory, Redis) can carry it as JSON.
/// <see cref="Seq"/> numbers the deltas of one request so a client that reconnects drops what it already has.
/// </summary>
public sealed record ChatEvent(
    string Type,
    Guid SessionId,
    Guid? RequestId = null,
    int? Seq = null,
    string? Text = null,
    MessageDto? Message = null,
    string? Status = null,
    string? Error = null,
    int? QueuePosition = null);

public interface IChatEventSubscription : IAsyncDisposable
{
    IAsyncEnumerable<ChatEvent> ReadAllAsync(CancellationToken cancellationToken);
}

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
    ValueTask<IChatEventSubscription> SubscribeAsync(Guid sessionId, CancellationToken cancellationToken);
}
