using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence.Sql;

internal sealed class SqlUserRepository(IDatabaseSession session, SqlDialect dialect) : IUserRepository
{
    private readonly string _selectColumns = $"""
        SELECT id AS Id, username AS Username, password_hash AS PasswordHash, role AS Role,
               CASE WHEN awaiting_approval = 1 AND status = 'active' THEN 'awaitingapproval' ELSE status END AS Status,
               default_model AS DefaultModel, system_prompt AS SystemPrompt, created_at AS CreatedAt,
               security_stamp AS SecurityStamp,
               (SELECT {dialect.CommaList("e.session_id")} FROM user_ended_sessions e WHERE e.user_id = users.id) AS EndedSessions
        FROM users
        """;

    public Task AddAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        return session.ExecuteAsync("""
            INSERT INTO users (id, username, password_hash, role, status, default_model, system_prompt, created_at,
                               security_stamp, awaiting_approval)
            VALUES (@Id, @Username, @PasswordHash, @Role, @Status, @DefaultModel, @SystemPrompt, @CreatedAt,
                    @SecurityStamp, @AwaitingApproval)
            """, Parameters(user), cancellationToken);
    }

    public async Task<User?> GetAsync(UserId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<UserRow>(
            $"{_selectColumns} WHERE id = @Id", new { Id = id.Value }, cancellationToken);
        return row?.ToUser();
    }

    public async Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<UserRow>(
            $"{_selectColumns} WHERE {dialect.UsernameEquals("@Username")}", new { Username = username }, cancellationToken);
        return row?.ToUser();
    }

    public Task UpdateAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        return session.ExecuteAsync("""
            UPDATE users
            SET password_hash = @PasswordHash, role = @Role, status = @Status, default_model = @DefaultModel,
                system_prompt = @SystemPrompt, security_stamp = @SecurityStamp, awaiting_approval = @AwaitingApproval
            WHERE id = @Id
            """, Parameters(user), cancellationToken);
    }

    /// <summary>Locks the admins' rows inside a transaction: two admins demoting each other at once leave one.</summary>
    public async Task<int> CountAdminsAsync(CancellationToken cancellationToken) =>
        (int)await session.ExecuteScalarLockingAsync<long>(
            $"SELECT COUNT(*) FROM (SELECT id FROM users WHERE role = 'admin' {dialect.ForUpdate}) AS admins", null,
            cancellationToken);

    /// <summary>Its ended sign-ins go with it (it never had chats, keys or links: it never signed in).</summary>
    public async Task<bool> DeleteAwaitingApprovalAsync(UserId id, CancellationToken cancellationToken)
    {
        var parameters = new { Id = id.Value };
        await session.ExecuteAsync("DELETE FROM user_ended_sessions WHERE user_id = @Id", parameters, cancellationToken);
        return await session.ExecuteAsync(
            "DELETE FROM users WHERE id = @Id AND awaiting_approval = 1 AND status = 'active'", parameters,
            cancellationToken) > 0;
    }

    public Task EraseAsync(UserId id, DateTimeOffset now, CancellationToken cancellationToken) =>
        session.ExecuteInOrderAsync(AccountErasure.Statements, AccountErasure.Parameters(id, now), cancellationToken);

    public Task EndSessionAsync(UserId id, string sessionId, DateTimeOffset until, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        session.ExecuteAsync(dialect.ReplaceExpiredEndedSessions, new { Id = id.Value, SessionId = sessionId, Until = until, Now = now }, cancellationToken);

    private static object Parameters(User user) => new
    {
        Id = user.Id.Value,
        Username = user.Username.Value,
        user.PasswordHash,
        Role = SqlValues.Lower(user.Role),
        // Waiting for approval is its own column: status keeps the values its CHECK allows.
        Status = SqlValues.Lower(user.IsBanned ? UserStatus.Banned : UserStatus.Active),
        AwaitingApproval = user.IsAwaitingApproval ? 1 : 0,
        DefaultModel = user.Preferences.DefaultModel?.Value,
        SystemPrompt = user.Preferences.SystemPrompt?.Value,
        user.SecurityStamp,
        CreatedAt = user.CreatedAt,
    };

    private sealed class UserRow
    {
        public string SecurityStamp { get; init; } = "";

        public string? EndedSessions { get; init; }

        public Guid Id { get; init; }

        public string Username { get; init; } = "";

        public string PasswordHash { get; init; } = "";

        public string Role { get; init; } = "";

        public string Status { get; init; } = "";

        public string? DefaultModel { get; init; }

        public string? SystemPrompt { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public User ToUser() => User.Restore(
            new UserId(Id),
            Domain.Common.Username.Stored(Username),
            PasswordHash,
            SqlValues.ToEnum<UserRole>(Role),
            SqlValues.ToEnum<UserStatus>(Status),
            new UserPreferences(ModelName.FromOptional(DefaultModel), Domain.Common.SystemPrompt.FromOptional(StorableText.Clean(SystemPrompt ?? ""))),
            CreatedAt,
            SecurityStamp,
            EndedSessions?.Split(',', StringSplitOptions.RemoveEmptyEntries));
    }
}
