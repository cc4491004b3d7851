using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Accounts deleted (<see cref="IUserRepository.EraseAsync"/>) whose objects in the object store may still be there:
/// each is listed until <see cref="ObjectsDeletedAsync"/>, so a deletion the store refused is tried again.
/// </summary>
public interface IErasedAccounts
{
    /// <summary>The oldest <paramref name="max"/> deleted accounts whose objects may remain.</summary>
    Task<IReadOnlyList<UserId>> ListAsync(int max, CancellationToken cancellationToken);

    Task ObjectsDeletedAsync(UserId id, CancellationToken cancellationToken);
}
