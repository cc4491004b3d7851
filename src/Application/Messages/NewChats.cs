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
/// Starts the chat a question asks in when it asks in a new one, and takes it back when the question is refused: a
/// refused question leaves no empty chat behind, and the chat it did not keep is not counted. A new chat costs a token
/// of the asker's chat-creation bucket, as one made in the web app does.
/// </summary>
public sealed class NewChats(
    IUnitOfWork unitOfWork,
    IChatRepository chats,
    IMessageRepository messages,
    IRelayRequestRepository requests,
    IRateLimiter limiter,
    PlatformMetrics metrics,
    IClock clock)
{
    /// <summary>
    /// How long a chat that keeps nothing may stand without a question under way before the sweep deletes it: far
    /// longer than the moment between its creation and its question being queued, which a crash may cut.
    /// </summary>
    public static readonly TimeSpan ForgetGrace = TimeSpan.FromMinutes(10);

    /// <summary>The chat as it will be stored (nothing is written yet), titled after its first question.</summary>
    public Chat Prepare(User asker, InNewChat wanted, PromptText? question)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        var firstQuestion = wanted.Turns.FirstOrDefault(t => t.Role == MessageRole.User)?.Content
                            ?? question?.Value ?? ChatTitle.Default.Value;
        return Chat.Start(asker, ChatTitle.FromQuestion(firstQuestion), wanted.Model, wanted.SystemPrompt,
            wanted.Sampling, clock.UtcNow, wanted.Id);
    }

    /// <summary>
    /// Takes the chat-creation token, then stores <paramref name="chat"/> with the earlier turns in one transaction; one
    /// that is to keep nothing is marked so (<see cref="IChatRepository.ForgetAfterAsync"/>) in the same
    /// transaction.
    /// </summary>
    public async Task StoreAsync(User asker, Chat chat, InNewChat wanted, CancellationToken cancellationToken) =>
        await StoreAsync(asker, chat, wanted, firstQuestion: null, cancellationToken);

    /// <summary>
    /// As <see cref="StoreAsync(User, Chat, InNewChat, CancellationToken)"/>, with the chat's first question and
    /// its relay request (made by <paramref name="ask"/> from the earlier turns, before the write) in the same
    /// transaction: a chat that was just made has nothing a question could wait for, so it needs neither a read nor a
    /// conditional write. <paramref name="ask"/> runs before the chat's token is taken: a refusal it throws (its model's
    /// queue full) costs no chat. Returns the chat's version as stored, against which the next question in it is
    /// written, and the request queued.
    /// </summary>
    public async Task<(string Version, RelayRequest Request)> StoreWithQuestionAsync(User asker, Chat chat,
        InNewChat wanted, Func<IReadOnlyList<Message>, CancellationToken, Task<(IReadOnlyList<Message> Question, RelayRequest Request)>> ask,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ask);
        var (version, request) = await StoreAsync(asker, chat, wanted, ask, cancellationToken);
        return (version, request!);
    }

    private async Task<(string Version, RelayRequest? Request)> StoreAsync(User asker, Chat chat, InNewChat wanted,
        Func<IReadOnlyList<Message>, CancellationToken, Task<(IReadOnlyList<Message> Question, RelayRequest Request)>>? firstQuestion,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(wanted);
        var now = clock.UtcNow;
        var turns = wanted.Turns
            .Select(t => chat.RecordEarlierTurn(asker, t.Role, t.Content, now, t.ToolCalls, t.ToolCallId, t.Images)).ToList();
        // The question changes the chat (its time, maybe its title): it is asked before the chat's row is written, and
        // before the chat's token is taken, so a question its model's queue refuses costs no chat.
        (IReadOnlyList<Message> Question, RelayRequest Request)? asked =
            firstQuestion is null ? null : await firstQuestion(turns, cancellationToken);
        var decision = await limiter.TryAcquireAsync(RateLimitScope.ChatCreation, asker.Id.ToString(), cancellationToken);
        if (!decision.Allowed)
        {
            const string scope = "chatcreation";
            metrics.Refused(scope);
            throw new RateLimitedException(decision.RetryAfter, scope);
        }

        try
        {
            var stored = await unitOfWork.InTransactionAsync(async ct =>
            {
                var version = await chats.StartAsync(chat, ct);
                if (wanted.KeepNothing)
                {
                    await chats.ForgetAfterAsync(chat.Id, now + ForgetGrace, ct);
                }

                foreach (var turn in turns)
                {
                    await messages.AddAsync(turn, ct);
                }

                if (asked is var (question, request))
                {
                    foreach (var message in question)
                    {
                        await messages.AddAsync(message, ct);
                    }

                    await requests.AddAsync(request, ct);
                }

                return version;
            }, cancellationToken);
            return (stored, asked?.Request);
        }
        catch
        {
            await GiveBackAsync(asker, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Removes a chat stored by <see cref="StoreAsync"/> whose question was then refused (the chat busy, the user banned
    /// meanwhile, the caller gone before it was queued), and gives its token back. A crash before this leaves the chat: a
    /// chat that keeps nothing is then deleted by the sweep (<see cref="Chats.ForgottenChatSweeper"/>).
    /// </summary>
    public async Task TakeBackAsync(User asker, Chat chat)
    {
        ArgumentNullException.ThrowIfNull(chat);
        await chats.DeleteAsync(chat.Id, CancellationToken.None);
        await GiveBackAsync(asker, CancellationToken.None);
    }

    private async Task GiveBackAsync(User asker, CancellationToken cancellationToken) =>
        await limiter.GiveBackAsync(RateLimitScope.ChatCreation, asker.Id.ToString(), cancellationToken);
}
