using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Shows the version <see cref="MessageId"/> of its turn: the chat's current path runs through it and on through the
/// newest version at each later turn. Answers the newest page of the new path. Refused while the chat is being
/// answered: the answer continues the path it was asked on.
/// </summary>
public sealed record SelectVersion(Guid ChatId, Guid MessageId) : IRequest<MessagePage>, IRateLimitedRequest
{
    /// <summary>A write of one's own chat, limited like the other edits of one's own records.</summary>
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];

    public bool OnlySuccessCounts => true;
}

public sealed class SelectVersionHandler(
    UserAccess access,
    IUnitOfWork unitOfWork,
    IChatRepository chats,
    IChatTree trees,
    IChatReadModel reads,
    IClock clock) : IRequestHandler<SelectVersion, MessagePage>
{
    public async Task<MessagePage> Handle(SelectVersion request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        await unitOfWork.InTransactionAsync(async ct =>
        {
            // The chat locked first, then judged: a send that got in before waits for nothing and is seen answering.
            var tree = await trees.GetLockedAsync(chat.Id, ct);
            var state = await chats.GetWithAnswerStateAsync(chat.Id, ct) ?? throw NotFoundException.Chat();
            if (state.IsAnswering)
            {
                throw ConflictException.ChatIsAnswering();
            }

            var change = tree.SwitchTo(new MessageId(request.MessageId));
            if (!change.IsEmpty)
            {
                await trees.MoveAsync(chat.Id, change, ct);
                // A new version of the chat: a send that read it before the switch is decided again on the new path.
                state.Chat.Touch(clock.UtcNow);
                await chats.UpdateAsync(state.Chat, ct);
            }

            return true;
        }, cancellationToken);
        return await GetMessagesHandler.ReadPageAsync(reads, chat.Id, null, GetMessages.DefaultLimit, cancellationToken);
    }
}
