using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Invites and setup passes (table <c>invites</c>), on either database.</summary>
internal sealed class SqlInviteRepository(IDatabaseSession session) : IInviteRepository
{
    private const string Columns = """
        SELECT id AS Id, code_hash AS CodeHash, kind AS Kind, created_by AS CreatedBy, created_at AS CreatedAt,
               expires_at AS ExpiresAt, used_at AS UsedAt, used_by AS UsedBy, revoked_at AS RevokedAt
        FROM invites
        """;

    /// <summary>Expired passes nobody used go when a new one is made: the table keeps what an admin may still list.</summary>
    private static readonly string[] s_add =
    [
        "DELETE FROM invites WHERE used_at IS NULL AND expires_at < @Now AND (kind = 'setup' OR expires_at < @LongAgo)",
        """
        INSERT INTO invites (id, code_hash, kind, created_by, created_at, expires_at)
        VALUES (@Id, @CodeHash, @Kind, @CreatedBy, @CreatedAt, @ExpiresAt)
        """,
    ];

    public Task AddAsync(Invite invite, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invite);
        return session.ExecuteInOrderAsync(s_add, new
        {
            Id = invite.Id.Value,
            invite.CodeHash,
            Kind = invite.GrantsAdmin ? "setup" : "invite",
            invite.CreatedBy,
            invite.CreatedAt,
            invite.ExpiresAt,
            Now = invite.CreatedAt,
            LongAgo = invite.CreatedAt - TimeSpan.FromDays(30),
        }, cancellationToken);
    }

    public async Task<Invite?> GetAsync(InviteId id, CancellationToken cancellationToken) =>
        (await session.QuerySingleOrDefaultAsync<InviteRow>($"{Columns} WHERE id = @Id", new { Id = id.Value },
            cancellationToken))?.ToInvite();

    public async Task<Invite?> GetByCodeHashAsync(string codeHash, CancellationToken cancellationToken) =>
        (await session.QuerySingleOrDefaultAsync<InviteRow>($"{Columns} WHERE code_hash = @CodeHash",
            new { CodeHash = codeHash }, cancellationToken))?.ToInvite();

    public async Task<bool> TryMarkUsedAsync(Invite invite, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invite);
        return await session.ExecuteAsync("""
            UPDATE invites SET used_at = @UsedAt, used_by = @UsedBy
            WHERE id = @Id AND used_at IS NULL AND revoked_at IS NULL AND expires_at > @UsedAt
            """, new { Id = invite.Id.Value, UsedAt = invite.UsedAt, UsedBy = invite.UsedBy?.Value }, cancellationToken) == 1;
    }

    public Task UpdateAsync(Invite invite, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invite);
        return session.ExecuteAsync("UPDATE invites SET revoked_at = @RevokedAt WHERE id = @Id",
            new { Id = invite.Id.Value, invite.RevokedAt }, cancellationToken);
    }

    public async Task<IReadOnlyList<Invite>> ListAsync(int max, CancellationToken cancellationToken) =>
        [.. (await session.QueryAsync<InviteRow>($"{Columns} WHERE kind = 'invite' ORDER BY created_at DESC LIMIT @Max",
            new { Max = Math.Max(0, max) }, cancellationToken)).Select(r => r.ToInvite())];

    private sealed class InviteRow
    {
        public Guid Id { get; init; }

        public string CodeHash { get; init; } = "";

        public string Kind { get; init; } = "";

        public string CreatedBy { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset ExpiresAt { get; init; }

        public DateTimeOffset? UsedAt { get; init; }

        public Guid? UsedBy { get; init; }

        public DateTimeOffset? RevokedAt { get; init; }

        public Invite ToInvite() => Invite.Restore(new InviteId(Id), CodeHash, Kind == "setup", CreatedBy, CreatedAt,
            ExpiresAt, UsedAt, UsedBy is { } user ? new UserId(user) : null, RevokedAt);
    }
}
