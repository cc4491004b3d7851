using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Chats.Organising;

/// <summary>
/// Deletes some of the caller's chats for good, all or none: one id that is not theirs (or not there) refuses the whole
/// call with a 404 naming <c>ids</c>.
/// </summary>
public sealed record DeleteChats(IReadOnlyList<Guid>? Ids) : IRequest<DeletedChatsDto>, IRateLimitedRequest
{
    /// <summary>Chats one call deletes at most.</summary>
    public const int MaxChats = 100;

    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed record DeletedChatsDto(IReadOnlyList<Guid> Deleted);

public sealed class DeleteChatsHandler(UserAccess access, IChatOrganisation organisation, ChatDeletion deletion)
    : IRequestHandler<DeleteChats, DeletedChatsDto>
{
    public async Task<DeletedChatsDto> Handle(DeleteChats request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var asked = request.Ids!.Distinct().ToList();
        var owned = await organisation.FindOwnedAsync(user.Id, asked, cancellationToken);
        if (owned.Count != asked.Count)
        {
            throw NotFoundException.Chats("ids");
        }

        await deletion.DeleteAsync(user.Id, owned, cancellationToken);
        return new DeletedChatsDto(owned.Select(c => c.Value).ToList());
    }
}

public sealed class DeleteChatsValidator : AbstractValidator<DeleteChats>
{
    public DeleteChatsValidator() => RuleFor(c => c.Ids)
        .Must(ids => ids is { Count: > 0 }).WithMessage("Name at least one chat.")
        .Must(ids => ids is null || ids.Count <= DeleteChats.MaxChats)
        .WithMessage($"At most {DeleteChats.MaxChats} chats at a time.")
        .Must(ids => ids is null || !ids.Contains(Guid.Empty)).WithMessage("Each id is a chat's id (a GUID, as /sessions lists it).");
}

/// <summary>
/// The one way an owner's chats are deleted, as an account is (<see cref="AccountDeletion"/>): answers under way are
/// cancelled, the chats' rows go in one transaction (<see cref="IChatRepository.EraseAsync"/>), the relay lets
/// their channels go, and their stored transcripts are deleted after the commit (<see cref="ErasedAccountObjects"/>:
/// tried again by its sweep if the object store refuses now).
/// </summary>
public sealed class ChatDeletion(
    IChatRepository sessions, IRelayControl relay, IChatClosedSignal closed, ErasedAccountObjects objects,
    IUnitOfWork unitOfWork, IClock clock)
{
    public async Task DeleteAsync(UserId owner, IReadOnlyList<ChatId> chats, CancellationToken cancellationToken)
    {
        foreach (var chat in chats)
        {
            await relay.CancelUnfinishedAsync(chat, cancellationToken);
        }

        await unitOfWork.InTransactionAsync(async ct =>
        {
            foreach (var chat in chats)
            {
                await sessions.EraseAsync(owner, chat, clock.UtcNow, ct);
            }

            return true;
        }, cancellationToken);

        foreach (var chat in chats)
        {
            closed.NotifyClosed(chat.Value);
            // The chats are gone whatever happens now: their objects go at once, or with the next sweep.
            await objects.DeleteAsync(owner, chat, CancellationToken.None);
        }
    }
}
