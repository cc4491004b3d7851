using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence.Sql;

internal sealed class SqlApiKeyRepository(IDatabaseSession session) : IApiKeyRepository
{
    private const string SelectColumns = """
        SELECT id AS Id, owner_id AS OwnerId, name AS Name, prefix AS Prefix, secret_hash AS SecretHash,
               created_at AS CreatedAt, last_used_at AS LastUsedAt, revoked_at AS RevokedAt
        FROM api_keys
        """;

    public Task AddAsync(ApiKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return session.ExecuteAsync("""
            INSERT INTO api_keys (id, owner_id, name, prefix, secret_hash, created_at, last_used_at, revoked_at)
            VALUES (@Id, @OwnerId, @Name, @Prefix, @SecretHash, @CreatedAt, @LastUsedAt, @RevokedAt)
            """, Parameters(key), cancellationToken);
    }

    public async Task<ApiKey?> GetAsync(ApiKeyId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<ApiKeyRow>(
            $"{SelectColumns} WHERE id = @Id", new { Id = id.Value }, cancellationToken);
        return row?.ToApiKey();
    }

    public async Task<ApiKey?> GetByPrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<ApiKeyRow>(
            $"{SelectColumns} WHERE prefix = @Prefix", new { Prefix = prefix }, cancellationToken);
        return row?.ToApiKey();
    }

    public Task UpdateAsync(ApiKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return session.ExecuteAsync(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, @RevokedAt) WHERE id = @Id",
            Parameters(key), cancellationToken);
    }

    public Task<int> RevokeAllAsync(UserId owner, DateTimeOffset at, CancellationToken cancellationToken) =>
        session.ExecuteAsync("UPDATE api_keys SET revoked_at = @At WHERE owner_id = @Owner AND revoked_at IS NULL",
            new { Owner = owner.Value, At = at }, cancellationToken);

    public Task MarkUsedAsync(ApiKeyId id, DateTimeOffset usedAt, CancellationToken cancellationToken) =>
        session.ExecuteAsync("""
            UPDATE api_keys SET last_used_at = @UsedAt
            WHERE id = @Id AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < @UsedAt)
            """, new { Id = id.Value, UsedAt = usedAt }, cancellationToken);

    private static object Parameters(ApiKey key) => new
    {
        Id = key.Id.Value,
        OwnerId = key.OwnerId.Value,
        key.Name,
        key.Prefix,
        key.SecretHash,
        CreatedAt = key.CreatedAt,
        LastUsedAt = key.LastUsedAt,
        RevokedAt = key.RevokedAt,
    };

    private sealed class ApiKeyRow
    {
        public Guid Id { get; init; }

        public Guid OwnerId { get; init; }

        public string Name { get; init; } = "";

        public string Prefix { get; init; } = "";

        public string SecretHash { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset? LastUsedAt { get; init; }

        public DateTimeOffset? RevokedAt { get; init; }

        public ApiKey ToApiKey() => ApiKey.Restore(
            new ApiKeyId(Id),
            new UserId(OwnerId),
            Name,
            Prefix,
            SecretHash,
            CreatedAt,
            LastUsedAt,
            RevokedAt);
    }
}
