using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages;

/// <summary>
/// How a queued question goes on to a model host once it is stored. A process that runs no dispatcher (an API beside a
/// server bot) wakes the dispatchers (<see cref="DispatcherWake"/>); the relay server may place a question on a host
/// before it is stored — a new chat's first, or one in a started chat — so its request is stored already dispatched and
/// sent once it is (<see cref="Relay.Dispatch.EarlyDispatch"/>).
/// </summary>
public interface IQuestionHandOff
{
    /// <summary>
    /// Whether a question in a started chat may be placed now (<see cref="PlaceInChatAsync"/>): its chat must then be read
    /// before it is asked, not taken as this process remembers it (<see cref="KnownChats"/>).
    /// </summary>
    ValueTask<bool> MayPlaceInChatAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Places <paramref name="request"/>, for <paramref name="question"/> in <paramref name="chat"/> (started, not yet
    /// stored with it), on a model host now, with the chat's earlier turns read from the store. Call it after the read of
    /// the chat whose version the question's write is conditional on: every change of the chat's path moves that version
    /// (a question, tool results, an edit, a regenerate, a version chosen) but an answer, which needs a request unfinished
    /// — so a write that succeeds finds the turns as read here. Null when the queue takes it: the request is as it was.
    /// </summary>
    Task<RequestBody?> PlaceInChatAsync(Chat chat, Message question, RelayRequest request,
        CancellationToken cancellationToken);

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
    public ValueTask<bool> MayPlaceInChatAsync(CancellationToken cancellationToken) => ValueTask.FromResult(false);

    public Task<RequestBody?> PlaceAsync(Chat chat, IReadOnlyList<Message> messages, RelayRequest request,
        CancellationToken cancellationToken) => Task.FromResult<RequestBody?>(null);

    public Task<RequestBody?> PlaceInChatAsync(Chat chat, Message question, RelayRequest request,
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
