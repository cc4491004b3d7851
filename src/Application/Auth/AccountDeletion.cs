using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth;

/// <summary>
/// The one way an account is deleted with all of its data, by its owner (<see cref="Commands.DeleteMyAccount"/>) or an
/// admin (<see cref="Admin.Commands.DeleteUser"/>): answers under way in its chats are cancelled, then every row of
/// theirs is deleted in one transaction (<see cref="IUserRepository.EraseAsync"/>; every sign-in ends with the row its
/// credentials are checked against, at every instance, as the user cache is dropped everywhere on a write), the relay
/// lets the chats' channels go, and the account's objects are deleted after the commit
/// (<see cref="ErasedAccountObjects"/>: tried again by its sweep if the object store refuses now).
/// </summary>
public sealed class AccountDeletion(
    IUserRepository users, IChatReadModel reads, IRelayControl relay, IChatClosedSignal closed,
    ErasedAccountObjects objects, IUnitOfWork unitOfWork, IClock clock)
{
    public async Task DeleteAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var chats = await reads.ListSessionsAsync(user.Id, cancellationToken);
        foreach (var chat in chats.Where(c => c.ClosedAt is null))
        {
            await relay.CancelUnfinishedAsync(new ChatId(chat.Id), cancellationToken);
        }

        await unitOfWork.InTransactionAsync(async ct =>
        {
            var stored = await users.GetAsync(user.Id, ct) ?? throw Common.Exceptions.NotFoundException.UserId(user.Id.Value);
            if (stored.IsAdmin)
            {
                // Counted with the admins' rows locked: two admins deleting each other at once leave one.
                stored.EnsureDeletable(await users.CountAdminsAsync(ct));
            }

            await users.EraseAsync(user.Id, clock.UtcNow, ct);
            return true;
        }, cancellationToken);

        foreach (var chat in chats)
        {
            closed.NotifyClosed(chat.Id);
        }

        // The account is gone whatever happens now: its objects go at once, or with the next sweep.
        await objects.DeleteAsync(user.Id, CancellationToken.None);
    }
}
