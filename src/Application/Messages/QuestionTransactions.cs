using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages;

/// <summary>
/// Questions queued in one transaction on the chat as read inside it, where a question is more than one message
/// written: a question of the chat's current path asked again (regenerate: the last one, its answer kept as an earlier
/// version; edit: any one, replaced by a new version and what followed it kept as the other branch), or the results of
/// the tool calls its last answer asked for (several messages and one request). A question in words is one message,
/// queued by one conditional write instead (<see cref="Asking"/>). Whatever raced the write, the database's
/// one-unfinished-request index refuses a second request for the chat.
/// </summary>
public sealed class QuestionTransactions(
    IUnitOfWork unitOfWork,
    IChatRepository chats,
    IMessageRepository messages,
    IRelayRequestRepository requests,
    IChatTree trees,
    IClock clock)
{
    /// <summary>
    /// The chat as stored and the request queued. <paramref name="replacement"/> null regenerates the path's last
    /// answer; else the question <paramref name="edited"/> (the path's last question when null) gets a new version.
    /// The path is cut first (<see cref="ConversationTree"/>); a message stored then continues it, as a sibling, holding
    /// <paramref name="images"/> or (null) the edited question's images: the same kept objects, deleted with the chat.
    /// </summary>
    public Task<(Chat Chat, RelayRequest Request)> RewindAsync(User asker, ChatId chatId, MessageId? edited,
        PromptText? replacement, IReadOnlyList<MessageImage>? images, CancellationToken cancellationToken) =>
        InChatAsync(asker, chatId, async (chat, ct) =>
        {
            var tree = await trees.GetLockedAsync(chat.Id, ct);
            var now = clock.UtcNow;
            var (question, change) = replacement is null ? tree.AnswerAgain() : Edit(tree, edited);
            // Asked as it was asked: a question a /v1 client gave tools (or a stop, a format) keeps them when the web
            // app regenerates or edits it.
            var options = await requests.GetOptionsAskedWithAsync(question, ct);
            await trees.MoveAsync(chat.Id, change, ct);
            var asked = question;
            if (replacement is null)
            {
                chat.Touch(now);
            }
            else
            {
                var kept = images ?? (await messages.GetAsync(question, ct))?.Images;
                var message = chat.PostUserMessage(asker, replacement, now, kept);
                await messages.AddAsync(message, ct);
                asked = message.Id;
            }

            return RelayRequest.Create(chat.Id, asker.Id, asked, chat.Sampling, now, options,
                traceParent: MessageTracing.CurrentOrNew());
        }, "The chat changed while this was being asked again; reload it and try again.", cancellationToken);

    private static (MessageId Question, PathChange Change) Edit(ConversationTree tree, MessageId? edited)
    {
        var question = edited ?? tree.LastQuestion ?? throw new ConflictException("This chat has no message to edit yet.");
        return (question, tree.BranchAt(question));
    }

    /// <summary>
    /// The messages <paramref name="ask"/> posts in the chat (the tool results) and the request it makes, once
    /// <paramref name="checkRoom"/> has let the chat's model take one more.
    /// </summary>
    public Task<(Chat Chat, RelayRequest Request)> AddAsync(User asker, ChatId chatId,
        Func<Chat, CancellationToken, Task> checkRoom,
        Func<Chat, (IReadOnlyList<Message> Question, RelayRequest Request)> ask, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkRoom);
        ArgumentNullException.ThrowIfNull(ask);
        return InChatAsync(asker, chatId, async (chat, ct) =>
        {
            await checkRoom(chat, ct);
            var (posted, request) = ask(chat);
            foreach (var message in posted)
            {
                await messages.AddAsync(message, ct);
            }

            return request;
        }, "The chat changed while this was being sent; send it again.", cancellationToken);
    }

    /// <summary>
    /// In one transaction: the chat read and checked (the asker's, open, not answering), <paramref name="write"/>'s
    /// messages and request, the chat stored.
    /// </summary>
    private async Task<(Chat Chat, RelayRequest Request)> InChatAsync(User asker, ChatId chatId,
        Func<Chat, CancellationToken, Task<RelayRequest>> write, string raced, CancellationToken cancellationToken)
    {
        try
        {
            return await unitOfWork.InTransactionAsync(async ct =>
            {
                var state = await chats.GetWithAnswerStateAsync(chatId, ct) ?? throw NotFoundException.Chat();
                var chat = state.Chat;
                chat.EnsureAccessibleBy(asker);
                var open = new ClosedChatAcceptsNoMessageRule(chat);
                if (open.IsBroken())
                {
                    throw new BusinessRuleViolationException(open);
                }

                if (state.IsAnswering)
                {
                    throw ConflictException.ChatIsAnswering();
                }

                var pending = await write(chat, ct);
                await requests.AddAsync(pending, ct);
                await chats.UpdateAsync(chat, ct);
                return (chat, pending);
            }, cancellationToken);
        }
        catch (Exception ex) when (DatabaseFailures.IsLostRace(ex))
        {
            // Another write to this chat (PostgreSQL, several at once) queued or changed its last turn meanwhile.
            throw new ConflictException(raced);
        }
    }
}
