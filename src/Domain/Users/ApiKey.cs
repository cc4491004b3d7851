using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Users;

/// <summary>A credential for programs. Only a hash of the secret is kept; the secret is shown once.</summary>
public sealed class ApiKey : Entity<ApiKeyId>
{
    public const int MaxNameLength = 100;

    private ApiKey(ApiKeyId id, UserId ownerId, string name, string prefix, string secretHash, DateTimeOffset createdAt,
        DateTimeOffset? lastUsedAt, DateTimeOffset? revokedAt)
        : base(id)
    {
        OwnerId = ownerId;
        Name = name;
        Prefix = prefix;
        SecretHash = secretHash;
        CreatedAt = createdAt;
        LastUsedAt = lastUsedAt;
        RevokedAt = revokedAt;
    }

    public UserId OwnerId { get; }

    public string Name { get; }

    /// <summary>The first characters of the key, safe to show so a user can tell keys apart.</summary>
    public string Prefix { get; }

    public string SecretHash { get; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset? LastUsedAt { get; private set; }

    public DateTimeOffset? RevokedAt { get; private set; }

    public bool IsRevoked => RevokedAt is not null;

    public static ApiKey Issue(User owner, string? name, string prefix, string secretHash, DateTimeOffset now)
    {
        owner.EnsureCanAct();
        var trimmed = name?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxNameLength)
        {
            throw new DomainException($"A key name is 1–{MaxNameLength} characters.", DomainErrorKind.Invalid, "name");
        }

        StorableText.Check(trimmed, "name");

        return new ApiKey(ApiKeyId.New(), owner.Id, trimmed, prefix, secretHash, now, null, null);
    }

    public static ApiKey Restore(ApiKeyId id, UserId ownerId, string name, string prefix, string secretHash,
        DateTimeOffset createdAt, DateTimeOffset? lastUsedAt, DateTimeOffset? revokedAt) =>
        new(id, ownerId, name, prefix, secretHash, createdAt, lastUsedAt, revokedAt);

    public void Revoke(DateTimeOffset now) => RevokedAt ??= now;

    public void MarkUsed(DateTimeOffset now) => LastUsedAt = now;
}
