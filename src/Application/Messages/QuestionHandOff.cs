using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages;

/// <summary>
/// How a queued question goes on to a model host once it is stored. A process that runs no dispatcher (an API beside a
/// server bot) wakes the dispatchers (<see cref="DispatcherWake"/>); the relay server may place a new chat's first
/// question on a host before it is stored, so its request is stored already dispatched and sent once it is
/// (<see cref="Relay.Dispatch.EarlyDispatch"/>).
/// </summary>
public interface IQuestionHandOff
{
    /// <summary>
    /// Places <paramref name="request"/>, the first question of <paramref name="chat"/> (not yet stored, with
    /// <paramref name="messages"/>, its earlier turns and the question, oldest first), on a model host now: the request
    /// is then dispatched, to be stored so and sent by <see cref="HandOffAsync"/> after the write. Null when the queue
    /// takes it, as any other question: the request is as it was.
    /// </summary>
    Task<RequestBody?> PlaceAsync(Chat chat, IReadOnlyList<Message> messages, RelayRequest request,
        CancellationToken cancellationToken);

    /// <summary>
    /// After the question's write: sends what <see cref="PlaceAsync"/> placed (<paramref name="placed"/>), or wakes the
    /// dispatcher for the request in the queue.
    /// </summary>
    Task HandOffAsync(RelayRequest request, RequestBody? placed, CancellationToken cancellationToken);
}

/// <summary>Leaves every question to the dispatchers, woken for it (a process that runs none wakes the others').</summary>
public sealed class DispatcherWake(IRelayQueueSignal signal) : IQuestionHandOff
{
    public Task<RequestBody?> PlaceAsync(Chat chat, IReadOnlyList<Message> messages, RelayRequest request,
        CancellationToken cancellationToken) => Task.FromResult<RequestBody?>(null);

    public Task HandOffAsync(RelayRequest request, RequestBody? placed, CancellationToken cancellationToken)
    {
        if (placed is not null)
        {
            throw new InvalidOperationException("This process places no question; it cannot send one.");
        }

        signal.NotifyPending();
        return Task.CompletedTask;
    }
}
