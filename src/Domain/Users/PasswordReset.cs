using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Users;

/// <summary>
/// A one-time pass an admin makes for an account whose password is forgotten: whoever opens its link sets a new password
/// for that account, once, before it expires. Only the code's hash is kept; a new pass for the same account replaces the
/// one before it.
/// </summary>
public sealed record PasswordReset(UserId UserId, string CodeHash, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt)
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(24);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(7);

    public static PasswordReset Create(UserId userId, string codeHash, string createdBy, DateTimeOffset now, TimeSpan lifetime)
    {
        if (lifetime < TimeSpan.FromHours(1) || lifetime > MaxLifetime)
        {
            throw new DomainException($"A password reset link lasts from 1 to {(int)MaxLifetime.TotalHours} hours.",
                DomainErrorKind.Invalid, "expiresInHours");
        }

        if (string.IsNullOrEmpty(codeHash))
        {
            throw new DomainException("A password reset needs its code's hash.", DomainErrorKind.Invalid);
        }

        return new PasswordReset(userId, codeHash, createdBy, now, now + lifetime);
    }
}
