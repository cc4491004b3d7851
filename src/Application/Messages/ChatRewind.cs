using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages;

/// <summary>
/// Rewinds the end of a chat to its last question and queues it again, in one transaction: the answer removed
/// (regenerate), or the question replaced and what followed it removed (edit).
/// </summary>
public sealed class ChatRewind(
    IUnitOfWork unitOfWork,
    IChatSessionRepository sessions,
    IMessageRepository messages,
    IRelayRequestRepository requests,
    IChatHistoryEditor history,
    IClock clock)
{
    /// <summary>The chat as stored and the request queued; <paramref name="replacement"/> null to regenerate.</summary>
    public async Task<(ChatSession Chat, RelayRequest Request)> RewindAsync(
        User asker, SessionId chatId, PromptText? replacement, CancellationToken cancellationToken)
    {
        try
        {
            return await unitOfWork.InTransactionAsync(
                ct => RewindInTransactionAsync(asker, chatId, replacement, ct), cancellationToken);
        }
        catch (Exception ex) when (DatabaseFailures.IsLostRace(ex))
        {
            // Another regenerate or edit of this chat changed its last turn meanwhile (PostgreSQL, several at once).
            throw new ConflictException("The chat changed while this was being asked again; reload it and try again.");
        }
    }

    private async Task<(ChatSession, RelayRequest)> RewindInTransactionAsync(
        User asker, SessionId chatId, PromptText? replacement, CancellationToken ct)
    {
        var state = await sessions.GetWithAnswerStateAsync(chatId, ct) ?? throw NotFoundException.Chat();
        var current = state.Session;
        current.EnsureAccessibleBy(asker);
        var open = new ClosedSessionAcceptsNoMessageRule(current);
        if (open.IsBroken())
        {
            throw new BusinessRuleViolationException(open);
        }

        if (state.IsAnswering)
        {
            throw ConflictException.ChatIsAnswering();
        }

        var last = await history.GetLastUserMessageIdAsync(current.Id, ct)
                   ?? throw new ConflictException("This chat has no message to answer again yet.");
        var now = clock.UtcNow;
        MessageId asked;
        if (replacement is null)
        {
            await history.RemoveAfterAsync(current.Id, last, ct);
            current.Touch(now);
            asked = last;
        }
        else
        {
            await history.RemoveFromAsync(current.Id, last, ct);
            var message = current.PostUserMessage(asker, replacement, now);
            await messages.AddAsync(message, ct);
            asked = message.Id;
        }

        var pending = RelayRequest.Create(current.Id, asker.Id, asked, current.Sampling, now,
            traceParent: MessageTracing.CurrentOrNew());
        await requests.AddAsync(pending, ct);
        await sessions.UpdateAsync(current, ct);
        return (current, pending);
    }
}
