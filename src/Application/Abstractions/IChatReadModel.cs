using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Abstractions;

/// <summary>Reads that go straight from SQL into DTOs, bypassing the aggregates.</summary>
public interface IChatReadModel
{
    /// <summary>The owner's sessions, most recently updated first.</summary>
    Task<IReadOnlyList<SessionDto>> ListSessionsAsync(UserId ownerId, CancellationToken cancellationToken);

    /// <summary>
    /// The owner's chat list, archived chats or the others: pinned chats first (the latest pinned first), then by their
    /// newest message (a chat without one by its creation), so reading a chat, renaming it or switching its versions
    /// leaves it where it was. Each with where its owner keeps it (<see cref="SessionDto.Pinned"/>, …).
    /// </summary>
    Task<IReadOnlyList<SessionDto>> ListChatsAsync(UserId ownerId, bool archived, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> messages of the session's current path that come before the message
    /// <paramref name="before"/> (or the newest ones when null), returned oldest first, each with the versions of its
    /// turn (<see cref="MessageDto.SiblingIds"/>). Unknown <paramref name="before"/> yields none.
    /// </summary>
    Task<IReadOnlyList<MessageDto>> GetMessagesPageAsync(
        ChatId chatId, MessageId? before, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The messages of the session's current path, oldest first; with <paramref name="wholeTree"/> every message of it,
    /// every branch (each names its parent), in the order they were written.
    /// </summary>
    Task<IReadOnlyList<MessageDto>> GetTranscriptAsync(ChatId chatId, bool wholeTree,
        CancellationToken cancellationToken);

    /// <summary>The current path's newest <paramref name="maxMessages"/> user and assistant turns, oldest first (for prompts).</summary>
    Task<IReadOnlyList<ChatTurn>> GetRecentTurnsAsync(
        ChatId chatId, int maxMessages, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyDto>> ListApiKeysAsync(UserId ownerId, CancellationToken cancellationToken);

    /// <summary>Requests not finished yet (pending, dispatched or streaming).</summary>
    Task<int> CountQueuedAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Requests waiting for a host (pending) in chats of <paramref name="model"/>; with <paramref name="isDefault"/>,
    /// also those in chats that name no model (they get the default).
    /// </summary>
    Task<int> CountWaitingForModelAsync(string model, bool isDefault, CancellationToken cancellationToken);

    /// <summary>Requests waiting for a host (pending) by their chat's model; "" for chats that name none.</summary>
    Task<IReadOnlyDictionary<string, int>> CountWaitingByModelAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Where a pending request stands in the dispatch order: 1 when it goes next; 0 when it is not pending.
    /// </summary>
    Task<int> GetQueuePositionAsync(RelayRequestId requestId, CancellationToken cancellationToken);

    /// <summary>
    /// Recent model answers (source = model) in the chats of <paramref name="ownerId"/> only, newest first, to train
    /// that user's fallback.
    /// </summary>
    Task<IReadOnlyList<string>> GetModelAnswersAsync(UserId ownerId, int max, CancellationToken cancellationToken);

    /// <summary>
    /// The open chats that hold a Discord channel — of <paramref name="ownerId"/> only, or of everyone when null —
    /// least recently used first: what the relay may take a channel back from when a user or the category has too many.
    /// </summary>
    Task<IReadOnlyList<ChannelHolder>> GetChannelHoldersAsync(UserId? ownerId, CancellationToken cancellationToken);

    /// <summary>
    /// The open chats of <paramref name="ownerId"/> whose current path ends with an answer reading exactly
    /// <paramref name="lastAnswer"/>, most recently updated first, at most <paramref name="max"/>: where a conversation
    /// that a client sends again with its next question may continue. Each is read whole (its model and system prompt
    /// decide too), so a candidate costs no second read of its chat.
    /// </summary>
    Task<IReadOnlyList<Chat>> FindChatsEndingWithAsync(
        UserId ownerId, string lastAnswer, int max, CancellationToken cancellationToken);
}

/// <summary>
/// An open chat holding a Discord channel. <paramref name="LastUse"/> orders chats by their newest message (larger is
/// more recent); <paramref name="Busy"/>: a request of the chat is unfinished, so its channel must stay.
/// </summary>
public sealed record ChannelHolder(ChatId ChatId, UserId OwnerId, string ChannelId, long LastUse, bool Busy);
