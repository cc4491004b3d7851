using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Abstractions;

/// <summary>The password reset passes admins made (one per account at most), by the hash of their code.</summary>
public interface IPasswordResets
{
    /// <summary>Stores <paramref name="reset"/> in place of the account's earlier pass, if any; expired passes go too.</summary>
    Task ReplaceAsync(PasswordReset reset, CancellationToken cancellationToken);

    /// <summary>
    /// Spends the pass whose code has the hash <paramref name="codeHash"/>, when it has not expired at
    /// <paramref name="now"/>: the account it resets, or null (no such pass, used or expired). Of two uses at once, one
    /// gets the account.
    /// </summary>
    Task<UserId?> TakeAsync(string codeHash, DateTimeOffset now, CancellationToken cancellationToken);
}
