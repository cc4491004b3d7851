using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Password reset passes (table <c>password_resets</c>, one per account at most), on either database.</summary>
internal sealed class SqlPasswordResets(IDatabaseSession session) : IPasswordResets
{
    private static readonly string[] s_replace =
    [
        "DELETE FROM password_resets WHERE user_id = @UserId OR expires_at < @CreatedAt",
        """
        INSERT INTO password_resets (user_id, code_hash, created_by, created_at, expires_at)
        VALUES (@UserId, @CodeHash, @CreatedBy, @CreatedAt, @ExpiresAt)
        """,
    ];

    public Task ReplaceAsync(PasswordReset reset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reset);
        return session.ExecuteInOrderAsync(s_replace, new
        {
            UserId = reset.UserId.Value, reset.CodeHash, reset.CreatedBy, reset.CreatedAt, reset.ExpiresAt,
        }, cancellationToken);
    }

    public async Task<UserId?> TakeAsync(string codeHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One statement that reads and deletes: of two uses at once, the one that deletes the row gets the account.
        var owner = await session.QuerySingleOrDefaultAsync<Guid?>(
            "DELETE FROM password_resets WHERE code_hash = @CodeHash AND expires_at > @Now RETURNING user_id",
            new { CodeHash = codeHash, Now = now }, cancellationToken);
        return owner is { } id ? new UserId(id) : null;
    }
}
