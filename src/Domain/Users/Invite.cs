using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Users;

/// <summary>
/// A one-time pass to register: an admin's invite link (sign-up by invitation), or the setup link the API host makes
/// while the platform has no admin (<see cref="GrantsAdmin"/>). Only the code's hash is kept; it is used once, and
/// never after it expires or is revoked.
/// </summary>
public sealed class Invite : Entity<InviteId>
{
    public static readonly TimeSpan SetupLifetime = TimeSpan.FromHours(24);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);

    private Invite(
        InviteId id, string codeHash, bool grantsAdmin, string createdBy, DateTimeOffset createdAt,
        DateTimeOffset expiresAt, DateTimeOffset? usedAt, UserId? usedBy, DateTimeOffset? revokedAt)
        : base(id)
    {
        CodeHash = codeHash;
        GrantsAdmin = grantsAdmin;
        CreatedBy = createdBy;
        CreatedAt = createdAt;
        ExpiresAt = expiresAt;
        UsedAt = usedAt;
        UsedBy = usedBy;
        RevokedAt = revokedAt;
    }

    public string CodeHash { get; }

    /// <summary>The setup link's pass: the account it registers is the platform's first admin.</summary>
    public bool GrantsAdmin { get; }

    /// <summary>Who made it, as the audit log names them (the host itself for a setup link).</summary>
    public string CreatedBy { get; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset ExpiresAt { get; }

    public DateTimeOffset? UsedAt { get; private set; }

    public UserId? UsedBy { get; private set; }

    public DateTimeOffset? RevokedAt { get; private set; }

    public bool IsUsed => UsedAt is not null;

    public bool IsRevoked => RevokedAt is not null;

    public static Invite Create(string codeHash, string createdBy, DateTimeOffset now, TimeSpan lifetime)
    {
        if (lifetime <= TimeSpan.Zero || lifetime > MaxLifetime)
        {
            throw new DomainException($"An invite lasts from a minute to {MaxLifetime.TotalDays:0} days.",
                DomainErrorKind.Invalid, "expiresInHours");
        }

        return New(codeHash, false, createdBy, now, lifetime);
    }

    /// <summary>The pass of the setup link that registers the first admin (<see cref="SetupLifetime"/>).</summary>
    public static Invite ForSetup(string codeHash, DateTimeOffset now) => New(codeHash, true, "host", now, SetupLifetime);

    public static Invite Restore(
        InviteId id, string codeHash, bool grantsAdmin, string createdBy, DateTimeOffset createdAt,
        DateTimeOffset expiresAt, DateTimeOffset? usedAt, UserId? usedBy, DateTimeOffset? revokedAt) =>
        new(id, codeHash, grantsAdmin, createdBy, createdAt, expiresAt, usedAt, usedBy, revokedAt);

    /// <summary>The first rule that keeps it from being used now, or null when it can be.</summary>
    public IBusinessRule? RefusalAt(DateTimeOffset now) =>
        new IBusinessRule[] { new InviteMustNotBeRevokedRule(this), new InviteIsUsedOnceRule(this), new InviteMustNotBeExpiredRule(this, now) }
            .FirstOrDefault(rule => rule.IsBroken());

    /// <summary>Spends it on the account <paramref name="user"/>; it can never be used again.</summary>
    public void Use(UserId user, DateTimeOffset now)
    {
        if (RefusalAt(now) is { } refusal)
        {
            throw new BusinessRuleViolationException(refusal);
        }

        UsedAt = now;
        UsedBy = user;
    }

    /// <summary>Withdraws an unused invite; false, changing nothing, when it was used or revoked already.</summary>
    public bool Revoke(DateTimeOffset now)
    {
        if (IsUsed || IsRevoked)
        {
            return false;
        }

        RevokedAt = now;
        return true;
    }

    private static Invite New(string codeHash, bool grantsAdmin, string createdBy, DateTimeOffset now, TimeSpan lifetime)
    {
        if (string.IsNullOrEmpty(codeHash))
        {
            throw new DomainException("An invite needs its code's hash.", DomainErrorKind.Invalid);
        }

        return new Invite(InviteId.New(), codeHash, grantsAdmin, createdBy, now, now + lifetime, null, null, null);
    }
}

public sealed class InviteIsUsedOnceRule(Invite invite) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Forbidden;

    public string Message => "This link has been used already; each one registers a single account.";

    public bool IsBroken() => invite.IsUsed;
}

public sealed class InviteMustNotBeExpiredRule(Invite invite, DateTimeOffset now) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Forbidden;

    public string Message => "This link has expired; ask for a new one.";

    public bool IsBroken() => now >= invite.ExpiresAt;
}

public sealed class InviteMustNotBeRevokedRule(Invite invite) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Forbidden;

    public string Message => "This invite was withdrawn by an admin.";

    public bool IsBroken() => invite.IsRevoked;
}
