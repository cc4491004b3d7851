using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Accounts deleted (<see cref="IUserRepository.EraseAsync"/>) and chats deleted by their owner
/// (<see cref="IChatRepository.EraseAsync"/>) whose objects in the object store may still be there: each is listed
/// until its objects are gone, so a deletion the store refused is tried again.
/// </summary>
public interface IErasedAccounts
{
    /// <summary>The oldest <paramref name="max"/> deleted accounts whose objects may remain.</summary>
    Task<IReadOnlyList<UserId>> ListAsync(int max, CancellationToken cancellationToken);

    Task ObjectsDeletedAsync(UserId id, CancellationToken cancellationToken);

    /// <summary>The oldest <paramref name="max"/> deleted chats whose objects may remain, with their owners.</summary>
    Task<IReadOnlyList<(UserId Owner, ChatId Chat)>> ListChatsAsync(int max, CancellationToken cancellationToken);

    Task ChatObjectsDeletedAsync(ChatId id, CancellationToken cancellationToken);
}
