using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The direct relay's host tokens (table <c>relay_host_tokens</c>), on either database.</summary>
internal sealed class SqlRelayHostTokens(IDatabaseSession session) : IRelayHostTokens
{
    private const string Columns = """
        SELECT id AS Id, name AS Name, token_hash AS TokenHash, created_by AS CreatedBy, created_at AS CreatedAt,
               revoked_at AS RevokedAt, last_used_at AS LastUsedAt
        FROM relay_host_tokens
        """;

    public Task AddAsync(RelayHostToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        return session.ExecuteAsync("""
            INSERT INTO relay_host_tokens (id, name, token_hash, created_by, created_at)
            VALUES (@Id, @Name, @TokenHash, @CreatedBy, @CreatedAt)
            """, new { token.Id, token.Name, token.TokenHash, token.CreatedBy, token.CreatedAt }, cancellationToken);
    }

    public async Task<RelayHostToken?> FindByHashAsync(string tokenHash, CancellationToken cancellationToken) =>
        (await session.QuerySingleOrDefaultAsync<Row>($"{Columns} WHERE token_hash = @TokenHash",
            new { TokenHash = tokenHash }, cancellationToken))?.ToToken();

    public async Task<RelayHostToken?> FindLiveAsync(string name, CancellationToken cancellationToken) =>
        (await session.QuerySingleOrDefaultAsync<Row>($"{Columns} WHERE name = @Name AND revoked_at IS NULL",
            new { Name = name }, cancellationToken))?.ToToken();

    public async Task<IReadOnlyList<RelayHostToken>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await session.QueryAsync<Row>($"{Columns} ORDER BY created_at DESC", null, cancellationToken))
            .Select(r => r.ToToken())];

    public Task MarkUsedAsync(Guid id, DateTimeOffset at, CancellationToken cancellationToken) =>
        session.ExecuteAsync("UPDATE relay_host_tokens SET last_used_at = @At WHERE id = @Id", new { Id = id, At = at },
            cancellationToken);

    public async Task<bool> RevokeAsync(string name, DateTimeOffset at, CancellationToken cancellationToken) =>
        await session.ExecuteAsync(
            "UPDATE relay_host_tokens SET revoked_at = @At WHERE name = @Name AND revoked_at IS NULL",
            new { Name = name, At = at }, cancellationToken) > 0;

    private sealed class Row
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = "";

        public string TokenHash { get; init; } = "";

        public string CreatedBy { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset? RevokedAt { get; init; }

        public DateTimeOffset? LastUsedAt { get; init; }

        public RelayHostToken ToToken() => new(Id, Name, TokenHash, CreatedBy, CreatedAt, RevokedAt, LastUsedAt);
    }
}
