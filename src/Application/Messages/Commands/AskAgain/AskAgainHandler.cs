using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Both commands rewind the end of the chat and queue a new request in one transaction, like
/// <see cref="SendMessage"/>: the chat is never left without its last question. They cost what a send costs, taken
/// (and given back when refused) by the pipeline's rate-limit behaviour, and are refused as a send is when the chat's
/// model queue is full (<see cref="QuestionQueue"/>).
/// </summary>
public sealed class AskAgainHandler(
    UserAccess access,
    IUnitOfWork unitOfWork,
    IChatSessionRepository sessions,
    IMessageRepository messages,
    IRelayRequestRepository requests,
    IChatHistoryEditor history,
    QuestionQueue queue,
    IClock clock)
    : IRequestHandler<RegenerateAnswer, SendMessageResult>, IRequestHandler<EditLastMessage, SendMessageResult>
{
    public Task<SendMessageResult> Handle(RegenerateAnswer request, CancellationToken cancellationToken) =>
        AskAgainAsync(request.SessionId, null, cancellationToken);

    public Task<SendMessageResult> Handle(EditLastMessage request, CancellationToken cancellationToken) =>
        AskAgainAsync(request.SessionId, PromptText.From(request.Content), cancellationToken);

    private async Task<SendMessageResult> AskAgainAsync(
        Guid sessionId, PromptText? replacement, CancellationToken cancellationToken)
    {
        var (user, session) = await access.RequireSessionAsync(sessionId, cancellationToken);
        await queue.RequireRoomAsync(session, cancellationToken);
        RelayRequest relayRequest;
        try
        {
            relayRequest = await AskAgainInTransactionAsync(user, session.Id, replacement, cancellationToken);
        }
        catch (Exception ex) when (DatabaseFailures.IsLostRace(ex))
        {
            // Another regenerate or edit of this chat changed its last turn meanwhile (PostgreSQL, several at once).
            throw new ConflictException("The chat changed while this was being asked again; reload it and try again.");
        }

        await queue.QueuedAsync(relayRequest, replacement is null ? "ask_again" : "edit", cancellationToken);
        return new SendMessageResult(relayRequest.UserMessageId.Value, relayRequest.Id.Value);
    }

    private Task<RelayRequest> AskAgainInTransactionAsync(
        User user, SessionId sessionId, PromptText? replacement, CancellationToken cancellationToken)
    {
        return unitOfWork.InTransactionAsync(async ct =>
        {
            var state = await sessions.GetWithAnswerStateAsync(sessionId, ct)
                        ?? throw NotFoundException.Chat();
            var current = state.Session;
            current.EnsureAccessibleBy(user);
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
                var message = current.PostUserMessage(user, replacement, now);
                await messages.AddAsync(message, ct);
                asked = message.Id;
            }

            var pending = RelayRequest.Create(current.Id, user.Id, asked, current.Sampling, now,
                traceParent: MessageTracing.CurrentOrNew());
            await requests.AddAsync(pending, ct);
            await sessions.UpdateAsync(current, ct);
            return pending;
        }, cancellationToken);
    }
}
