using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Abstractions;

public interface IChatRepository
{
    Task AddAsync(Chat chat, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new chat as <see cref="AddAsync"/> does and returns its version as
    /// <see cref="GetWithAnswerStateAsync"/> reads it, against which a question may be queued in it
    /// (<see cref="IRelayRequestRepository.TryQueueAsync"/>) without reading it first.
    /// </summary>
    Task<string> StartAsync(Chat chat, CancellationToken cancellationToken);

    Task<Chat?> GetAsync(ChatId id, CancellationToken cancellationToken);

    Task UpdateAsync(Chat chat, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="closed"/>'s closing, only if the stored chat is still open: true when this call closed
    /// it, false when it was closed already (by an earlier call, or one running beside this one).
    /// </summary>
    Task<bool> TryCloseAsync(Chat closed, CancellationToken cancellationToken);

    /// <summary>
    /// The session and whether one of its requests is still unanswered (pending or in flight), in one read: what
    /// asking in it must know. Null when there is no such session.
    /// </summary>
    Task<ChatAnswerState?> GetWithAnswerStateAsync(ChatId id, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the chat with its messages and relay requests, leaving nothing of what was said (OpenAI's
    /// <c>store: false</c>). Deleting a chat that is gone changes nothing.
    /// </summary>
    Task DeleteAsync(ChatId id, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the chat as <see cref="DeleteAsync"/> does, at its owner's asking, and lists it among the erased chats
    /// (<see cref="IErasedAccounts.ListChatsAsync"/>) whose stored objects go after the commit. Call it in a transaction.
    /// </summary>
    Task EraseAsync(UserId ownerId, ChatId id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Marks a chat that is to keep nothing: from <paramref name="after"/> on, once it has no request under way,
    /// <see cref="ListForgettableAsync"/> names it for deletion. Written with the chat, in its transaction.
    /// </summary>
    Task ForgetAfterAsync(ChatId id, DateTimeOffset after, CancellationToken cancellationToken);

    /// <summary>Marked chats past their time with no request under way, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<ChatId>> ListForgettableAsync(DateTimeOffset now, int max, CancellationToken cancellationToken);
}

/// <param name="IsAnswering">A request of the session is pending or in flight.</param>
/// <param name="Version">
/// The stored chat's version as read, opaque: what <see cref="IRelayRequestRepository.TryQueueAsync"/> checks that
/// the chat is still as it was when the caller decided.
/// </param>
public sealed record ChatAnswerState(Chat Chat, bool IsAnswering, string Version);
