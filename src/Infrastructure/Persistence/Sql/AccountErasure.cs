using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// What deleting an account deletes, in the order foreign keys need (rows that name others first), the same SQL on both
/// databases: every row with the user's id or of one of their chats. The chats' search index rows go with them (SQLite's
/// triggers, PostgreSQL's generated columns); the chats' network rows (posted messages, current chats, questions, relay
/// channels) are deleted here rather than left to their cascades. Kept: the audit log (what admins did, this deletion
/// included) and the metrics (per request, no user and no text). The account is recorded in <c>erased_accounts</c> so
/// its objects are deleted after the commit (<see cref="SqlErasedAccounts"/>).
/// </summary>
internal static class AccountErasure
{
    private const string TheirChats = "(SELECT c.id FROM chat_sessions c WHERE c.owner_id = @Id)";

    public static readonly IReadOnlyList<string> Statements =
    [
        $"DELETE FROM relay_requests WHERE user_id = @Id OR session_id IN {TheirChats}",
        $"DELETE FROM answer_feedback WHERE user_id = @Id OR session_id IN {TheirChats}",
        $"DELETE FROM channel_messages WHERE session_id IN {TheirChats}",
        $"DELETE FROM channel_current_chats WHERE session_id IN {TheirChats}",
        $"DELETE FROM channel_questions WHERE session_id IN {TheirChats}",
        $"DELETE FROM relay_chat_channels WHERE session_id IN {TheirChats}",
        $"DELETE FROM messages WHERE session_id IN {TheirChats}",
        "DELETE FROM chat_sessions WHERE owner_id = @Id",
        "DELETE FROM chat_folders WHERE owner_id = @Id",
        // The account's objects go below transcripts/{id}/ after the commit: its deleted chats' among them.
        "DELETE FROM erased_chats WHERE owner_id = @Id",
        "DELETE FROM share_link_messages WHERE link_id IN (SELECT l.id FROM share_links l WHERE l.owner_id = @Id)",
        "DELETE FROM share_links WHERE owner_id = @Id",
        "DELETE FROM api_keys WHERE owner_id = @Id",
        "DELETE FROM personas WHERE owner_id = @Id",
        "DELETE FROM invites WHERE used_by = @Id OR created_by = @Actor",
        "DELETE FROM password_resets WHERE user_id = @Id",
        "DELETE FROM channel_identities WHERE user_id = @Id",
        "DELETE FROM link_codes WHERE user_id = @Id",
        "DELETE FROM user_ended_sessions WHERE user_id = @Id",
        "DELETE FROM users WHERE id = @Id",
        // After the user (no key names it): a usage figure written meanwhile held the user's row, so the deletion of
        // the user waited for it, and this sees its row (SqlUserUsage).
        "DELETE FROM user_usage WHERE user_id = @Id",
        "INSERT INTO erased_accounts (user_id, erased_at) VALUES (@Id, @Now) ON CONFLICT (user_id) DO NOTHING",
    ];

    /// <summary>The parameters of <see cref="Statements"/>; an admin's invites name them as <c>user:ID</c>.</summary>
    public static object Parameters(UserId id, DateTimeOffset now) => new { Id = id.Value, Actor = $"user:{id.Value}", Now = now };
}

/// <summary>Accounts deleted whose objects may still be stored (table <c>erased_accounts</c>).</summary>
internal sealed class SqlErasedAccounts(IDatabaseSession session) : IErasedAccounts
{
    public async Task<IReadOnlyList<UserId>> ListAsync(int max, CancellationToken cancellationToken)
    {
        var ids = await session.QueryAsync<Guid>(
            "SELECT user_id FROM erased_accounts ORDER BY erased_at LIMIT @Max", new { Max = max }, cancellationToken);
        return ids.Select(id => new UserId(id)).ToList();
    }

    public Task ObjectsDeletedAsync(UserId id, CancellationToken cancellationToken) =>
        session.ExecuteAsync("DELETE FROM erased_accounts WHERE user_id = @Id", new { Id = id.Value }, cancellationToken);

    public async Task<IReadOnlyList<(UserId Owner, ChatId Chat)>> ListChatsAsync(int max, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<ErasedChatRow>(
            "SELECT owner_id AS OwnerId, session_id AS ChatId FROM erased_chats ORDER BY erased_at LIMIT @Max",
            new { Max = max }, cancellationToken);
        return rows.Select(r => (new UserId(r.OwnerId), new ChatId(r.ChatId))).ToList();
    }

    public Task ChatObjectsDeletedAsync(ChatId id, CancellationToken cancellationToken) =>
        session.ExecuteAsync("DELETE FROM erased_chats WHERE session_id = @Id", new { Id = id.Value }, cancellationToken);

    private sealed class ErasedChatRow
    {
        public Guid OwnerId { get; init; }

        public Guid ChatId { get; init; }
    }
}
