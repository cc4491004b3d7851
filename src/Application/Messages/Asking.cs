using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages.Caching;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages;

/// <summary>
/// The one way a question reaches the model, whichever way it came in (the web app's send, regenerate and edit,
/// OpenAI's <c>/v1</c>, a chat network): it starts the chat when the question asks in a new one, checks the model's
/// queue has room, queues the message and its relay request, tells the chat and wakes the dispatcher
/// (<see cref="QuestionQueue"/>), and takes back a chat a refusal left empty (<see cref="NewChats"/>). The ways in keep
/// only their translation, and their outside request's pipeline takes the model-work limits once. A deterministic
/// question the answer cache knows is answered from it here, so every way in has the cache (<see cref="AnswerCache"/>).
/// </summary>
/// <remarks>
/// A question in a chat is queued by one conditional write (<see cref="IRelayRequestRepository.TryQueueAsync"/>): it
/// stores nothing if the chat changed since it was read or is being answered, and the chat is then read again and
/// decided again. A chat this process queued a message in before is known (<see cref="KnownChats"/>), so the next
/// message in it usually costs that one write and no read. Where a question can be placed on a host at once (one host
/// of this process takes any number: <see cref="IQuestionHandOff.PlaceInChatAsync"/>), the chat is read instead, then
/// its earlier turns for the prompt, and the write on the version read keeps them as read: the request is stored
/// already dispatched, and the dispatcher's claim and second write are saved.
/// </remarks>
public sealed class Asking(
    IChatRepository chats,
    IRelayRequestRepository requests,
    KnownChats knownChats,
    QuestionQueue queue,
    NewChats newChats,
    Lazy<QuestionTransactions> transactions,
    IClock clock)
{
    /// <summary>Reads and conditional writes before giving up on a chat that keeps changing under the question.</summary>
    internal const int Attempts = 3;

    /// <summary>Queues <paramref name="question"/> of <paramref name="asker"/>'s, in its chat or a new one.</summary>
    public async Task<Asked> AskAsync(User asker, Question question, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(asker);
        ArgumentNullException.ThrowIfNull(question);
        if ((question.Text is null) == (question.ToolResults.Count == 0))
        {
            throw new ArgumentException("A question is either words or tool results.", nameof(question));
        }

        var asked = question.Chat switch
        {
            InChat existing when question.ToolResults.Count > 0 =>
                await QueueToolResultsAsync(asker, existing.Id, question, cancellationToken),
            InChat existing => await QueueAsync(asker, existing.Id, question, cancellationToken),
            _ => await QueueInNewChatAsync(asker, (InNewChat)question.Chat, question, cancellationToken),
        };
        await queue.QueuedAsync(asked.Request, question.Way, cancellationToken, asked.Cache, asked.Placed);
        return asked;
    }

    private async Task<Asked> QueueToolResultsAsync(User asker, ChatId chatId, Question question,
        CancellationToken cancellationToken)
    {
        // Written without the chat's version: a version this process remembers of it is stale after it.
        knownChats.Forget(chatId);
        var (chat, request) = await transactions.Value.AddAsync(asker, chatId, queue.RequireRoomAsync,
            chat => Ask(asker, chat, question, lookup: null), cancellationToken);
        return new Asked(chat, request);
    }

    private async Task<Asked> QueueInNewChatAsync(User asker, InNewChat wanted, Question question,
        CancellationToken cancellationToken)
    {
        var chat = newChats.Prepare(asker, wanted, question.Text);
        var lookup = await queue.LookUpAsync(asker, chat, question, cancellationToken);
        RequestBody? placed = null;
        var (version, pending) = await newChats.StoreWithQuestionAsync(asker, chat, wanted, async (turns, ct) =>
        {
            var (posted, request) = Ask(asker, chat, question, lookup);
            // Placed on a host now when one takes it, and then stored already dispatched: no claim, no second write.
            placed = await queue.PlaceAsync(chat, [.. turns, .. posted], request, lookup, ct);
            await queue.RequireRoomUnlessTakenAsync(chat, placed, lookup, ct);
            return (posted, request);
        }, cancellationToken);
        knownChats.Remember(chat, version);
        return new Asked(chat, pending) { Cache = lookup, Placed = placed };
    }

    /// <summary>
    /// Asks a question of the chat's current path again: the last one, its answer kept as an earlier version beside the
    /// new one (regenerate), or <paramref name="edited"/> (the last when null) in the new words of
    /// <paramref name="replacement"/>, a version beside it whose answer starts a new branch (edit) — one transaction
    /// with the new request (<see cref="QuestionTransactions"/>). The new version holds <paramref name="images"/>, already
    /// kept in the object store, or when null the edited question's own.
    /// </summary>
    public async Task<Asked> AskAgainAsync(User asker, Chat chat, MessageId? edited, PromptText? replacement,
        CancellationToken cancellationToken, IReadOnlyList<MessageImage>? images = null)
    {
        ArgumentNullException.ThrowIfNull(chat);
        await queue.RequireRoomAsync(chat, cancellationToken);
        var (stored, pending) = await transactions.Value.RewindAsync(asker, chat.Id, edited, replacement, images,
            cancellationToken);
        await queue.QueuedAsync(pending, replacement is null ? "ask_again" : "edit", cancellationToken);
        return new Asked(stored, pending);
    }

    private async Task<Asked> QueueAsync(User asker, ChatId chatId, Question question, CancellationToken cancellationToken)
    {
        // A known chat is used only to try the write: whatever refuses the message is decided on a fresh read. Not for
        // a question placed on a host at once: its earlier turns must be read after the chat's version the write keeps.
        var known = await queue.MayPlaceInChatAsync(cancellationToken) ? null : knownChats.Find(chatId);
        var roomChecked = false;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var (chat, version, read) =
                attempt == 0 && known is { } hint && hint.Chat.IsVisibleTo(asker) && !hint.Chat.IsClosed
                    ? (hint.Chat, hint.Version, false)
                    : await ReadAsync(asker, chatId, cancellationToken);
            // Looked up on every read: the conversation it hashes is the chat's as read.
            var lookup = await queue.LookUpAsync(asker, chat, question, cancellationToken);
            if (!read && !roomChecked)
            {
                // A remembered chat is not placed on a host (its earlier turns were not read): its model's queue is
                // counted before the question is posted in it, so a refusal leaves the remembered chat as it was.
                roomChecked = await queue.RequireRoomUnlessTakenAsync(chat, placed: null, lookup, cancellationToken);
            }

            var (posted, pending) = Ask(asker, chat, question, lookup);
            // Placed now when one host takes it, and then stored already dispatched: no claim, no second write. A write
            // refused leaves the placement unused (placing keeps no counts).
            var placed = read ? await queue.PlaceInChatAsync(chat, posted.Single(), pending, lookup, cancellationToken) : null;
            if (read && !roomChecked)
            {
                roomChecked = await queue.RequireRoomUnlessTakenAsync(chat, placed, lookup, cancellationToken);
            }

            var stored = await requests.TryQueueAsync(chat, version, posted.Single(), pending, cancellationToken);
            if (stored is not null)
            {
                knownChats.Remember(chat, stored);
                return new Asked(chat, pending) { Cache = lookup, Placed = placed };
            }

            knownChats.Forget(chatId);
        }

        throw new ConflictException("The chat changed while the message was being sent; send it again.");
    }

    /// <summary>
    /// The question posted in <paramref name="chat"/> — the user's message, or the tool results — and the relay request
    /// that asks the model it (for the last of them), taken from the queue when the answer cache answers it.
    /// </summary>
    private (IReadOnlyList<Message> Question, RelayRequest Request) Ask(User asker, Chat chat, Question question,
        CacheLookup? lookup)
    {
        var now = clock.UtcNow;
        IReadOnlyList<Message> posted = question.Text is { } text
            ? [chat.PostUserMessage(asker, text, now, question.Images)]
            : chat.PostToolResults(asker, [.. question.ToolResults.Select(r => (r.ToolCallId, r.Content))], now);
        var request = RelayRequest.Create(chat.Id, asker.Id, posted[^1].Id, question.Sampling.Over(chat.Sampling), now,
            question.Options, MessageTracing.CurrentOrNew());
        queue.TakeFromQueue(request, lookup, now);
        return (posted, request);
    }

    /// <summary>The chat as stored, with its version; <c>Read</c> says it was read (not remembered).</summary>
    private async Task<(Chat Chat, string Version, bool Read)> ReadAsync(
        User asker, ChatId chatId, CancellationToken cancellationToken)
    {
        var state = await chats.GetWithAnswerStateAsync(chatId, cancellationToken);
        if (state is null || !state.Chat.IsVisibleTo(asker))
        {
            throw NotFoundException.Chat();
        }

        if (state.IsAnswering)
        {
            throw ConflictException.ChatIsAnswering();
        }

        return (state.Chat, state.Version, true);
    }
}
