using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Auth;

/// <summary>
/// Changes an account as it is stored: read and written in one transaction (the read bypasses the user cache), so the
/// stored row is what changes, never a cached copy another process has since changed.
/// </summary>
public sealed class StoredAccounts(IUserRepository users, IUnitOfWork unitOfWork)
{
    /// <summary>
    /// Reads the account <paramref name="id"/>, applies <paramref name="change"/> (which may write more in the same
    /// transaction) and stores it; the stored account is returned. An account gone meanwhile ends the caller's
    /// sign-in.
    /// </summary>
    public Task<User> ChangeAsync(UserId id, Func<User, CancellationToken, Task> change, CancellationToken cancellationToken) =>
        unitOfWork.InTransactionAsync(async ct =>
        {
            var stored = await users.GetAsync(id, ct) ?? throw new UnauthenticatedException("This account no longer exists.");
            await change(stored, ct);
            await users.UpdateAsync(stored, ct);
            return stored;
        }, cancellationToken);
}
