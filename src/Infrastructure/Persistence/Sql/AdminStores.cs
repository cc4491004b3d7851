using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

internal sealed class SqlAuditLog(IDatabaseSession session) : IAuditLog
{
    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return session.ExecuteAsync("""
            INSERT INTO audit_log (occurred_at, actor, command, arguments, outcome, detail)
            VALUES (@At, @Actor, @Command, @Arguments, @Outcome, @Detail)
            """, new
        {
            At = entry.At,
            entry.Actor,
            entry.Command,
            entry.Arguments,
            Outcome = SqlValues.Lower(entry.Outcome),
            entry.Detail,
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListRecentAsync(int max, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<AuditLogRow>("""
            SELECT occurred_at AS At, actor AS Actor, command AS Command, arguments AS Arguments, outcome AS Outcome,
                   detail AS Detail
            FROM audit_log
            ORDER BY id DESC
            LIMIT @Max
            """, new { Max = Math.Max(0, max) }, cancellationToken);
        return rows.Select(r => new AuditEntry(r.At, r.Actor, r.Command, r.Arguments,
            SqlValues.ToEnum<AuditOutcome>(r.Outcome), r.Detail)).ToArray();
    }
}

internal sealed class SqlSettingsStore(IDatabaseSession session) : ISettingsStore
{
    public async Task<IReadOnlyList<SettingEntry>> ListAsync(CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<SettingRow>(
            "SELECT key AS Key, value AS Value, updated_at AS UpdatedAt, updated_by AS UpdatedBy FROM settings ORDER BY key",
            null, cancellationToken);
        return rows.Select(r => new SettingEntry(r.Key, r.Value, r.UpdatedAt, r.UpdatedBy)).ToArray();
    }

    public Task SetAsync(SettingEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return session.ExecuteAsync("""
            INSERT INTO settings (key, value, updated_at, updated_by) VALUES (@Key, @Value, @UpdatedAt, @UpdatedBy)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                                            updated_by = excluded.updated_by
            """, new { entry.Key, entry.Value, UpdatedAt = entry.UpdatedAt, entry.UpdatedBy },
            cancellationToken);
    }

    public async Task<bool> RemoveAsync(string key, CancellationToken cancellationToken) =>
        await session.ExecuteAsync("DELETE FROM settings WHERE key = @Key", new { Key = key }, cancellationToken) > 0;

    private sealed class SettingRow
    {
        public string Key { get; init; } = "";

        public string Value { get; init; } = "";

        public DateTimeOffset UpdatedAt { get; init; }

        public string? UpdatedBy { get; init; }
    }
}

internal sealed class SqlAdminReadModel(IDatabaseSession session, SqlDialect dialect, IMetricsSummaryQuery metricsSummary)
    : IAdminReadModel
{
    public async Task<IReadOnlyList<AdminUserDto>> ListUsersAsync(
        bool? awaitingApproval, int max, CancellationToken cancellationToken, string? search = null)
    {
        // Chat network members (discord:…, telegram:…) have no password and are managed from their network. Those
        // waiting are a queue, served oldest first; the accounts list shows the newest (older ones are found by search),
        // those not waiting when asked (the console's, beside its queue: a wave of sign-ups does not fill its cap).
        const string Waiting = "awaiting_approval = 1 AND status = 'active'";
        var onlyWaiting = awaitingApproval == true;
        var rows = await session.QueryAsync<UserRow>($"""
            SELECT id AS Id, username AS Username, role AS Role,
                   CASE WHEN {Waiting} THEN 'awaitingApproval' ELSE status END AS Status,
                   created_at AS CreatedAt
            FROM users
            WHERE password_hash <> @NoPassword
            {awaitingApproval switch { true => $"AND {Waiting}", false => $"AND NOT ({Waiting})", null => "" }}
            {(search is null ? "" : @"AND LOWER(username) LIKE @Search ESCAPE '\'")}
            ORDER BY created_at {(onlyWaiting ? "" : "DESC")}, username
            LIMIT @Max
            """, new
        {
            Max = Math.Max(0, max),
            NoPassword = Domain.Users.User.NoPassword,
            Search = search is null ? null : SqlLike.Containing(search),
        }, cancellationToken);
        return [.. rows.Select(r => new AdminUserDto(r.Id, r.Username, r.Role, r.Status, r.CreatedAt))];
    }

    public async Task<IReadOnlyList<AdminSessionDto>> ListSessionsAsync(
        UserId? ownerId, int max, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<SessionRow>($"""
            SELECT s.id AS Id, s.title AS Title, s.status AS Status, s.owner_id AS OwnerId, u.username AS OwnerName,
                   (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS Messages, s.updated_at AS UpdatedAt
            FROM chat_sessions s
            JOIN users u ON u.id = s.owner_id
            {dialect.OptionalEquals("s.owner_id", "@OwnerId", ownerId is not null)}
            ORDER BY s.updated_at DESC, s.{dialect.AdminSessionTieBreak} DESC
            LIMIT @Max
            """, new { OwnerId = ownerId?.Value, Max = Math.Max(0, max) }, cancellationToken);
        return rows.Select(r => new AdminSessionDto(r.Id, r.Title, r.Status,
            r.OwnerId, r.OwnerName, (int)r.Messages, r.UpdatedAt)).ToArray();
    }

    public Task<MetricsSummary> GetMetricsSummaryAsync(
        DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        metricsSummary.GetAsync(from, to, cancellationToken);

    private sealed class UserRow
    {
        public Guid Id { get; init; }

        public string Username { get; init; } = "";

        public string Role { get; init; } = "";

        public string Status { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }
    }

    private sealed class SessionRow
    {
        public Guid Id { get; init; }

        public string Title { get; init; } = "";

        public string Status { get; init; } = "";

        public Guid OwnerId { get; init; }

        public string OwnerName { get; init; } = "";

        public long Messages { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }
    }
}
