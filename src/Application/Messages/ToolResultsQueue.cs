using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Messages;

/// <summary>
/// Queues the results of the tool calls a chat's last answer asked for — several messages and their one request — in
/// one transaction, checked on the chat as read inside it. (A question in words is one message, queued by one
/// conditional write instead: <see cref="Asking"/>.) A second unfinished request for the chat is refused by the
/// database's one-unfinished-request index whatever raced it.
/// </summary>
public sealed class ToolResultsQueue(
    IUnitOfWork unitOfWork,
    IChatSessionRepository sessions,
    IMessageRepository messages,
    IRelayRequestRepository requests,
    QuestionQueue queue)
{
    public async Task<Asked> QueueAsync(User asker, SessionId chatId,
        Func<ChatSession, (IReadOnlyList<Message> Question, RelayRequest Request)> ask, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ask);
        try
        {
            return await unitOfWork.InTransactionAsync(async ct =>
            {
                var state = await sessions.GetWithAnswerStateAsync(chatId, ct);
                if (state is null || !state.Session.IsVisibleTo(asker))
                {
                    throw NotFoundException.Chat();
                }

                if (state.IsAnswering)
                {
                    throw ConflictException.ChatIsAnswering();
                }

                var chat = state.Session;
                await queue.RequireRoomAsync(chat, ct);
                var (posted, request) = ask(chat);
                foreach (var message in posted)
                {
                    await messages.AddAsync(message, ct);
                }

                await requests.AddAsync(request, ct);
                await sessions.UpdateAsync(chat, ct);
                return new Asked(chat, request);
            }, cancellationToken);
        }
        catch (Exception ex) when (DatabaseFailures.IsLostRace(ex))
        {
            throw ConflictException.ChatIsAnswering();
        }
    }
}
