using MeatLizard.Application.Search;
using MeatLizard.Infrastructure.Persistence.Sql;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// Search by FTS5 (migration 0029): titles in <c>chat_search</c>, messages in <c>message_search</c>, ranked by bm25
/// (negated, so that higher is better). New rows are indexed in batches (<see cref="SqliteSearchIndex"/>): those still
/// waiting are indexed before the search.
/// </summary>
internal sealed class SqliteChatSearch(SqliteSession session, SqliteSearchIndex index) : SqlChatSearch(session)
{
    // CROSS JOIN keeps the index first: the planner could otherwise walk all of a user's messages and ask the index
    // about each one. The text is read for the page alone (snippets are made from it), not for every match.
    protected override string Sql => """
        WITH hits AS (
            SELECT s.id AS ChatId, s.title AS Title, NULL AS MessageId, NULL AS Role, -bm25(chat_search) AS Rank,
                   s.created_at AS CreatedAt, 0 AS Kind, chat_search.rowid AS Row
            FROM chat_search
            CROSS JOIN chat_search_rows r ON r.seq = chat_search.rowid
            CROSS JOIN chat_sessions s ON s.id = r.session_id
            WHERE chat_search MATCH @Words AND s.owner_id = @OwnerId
            UNION ALL
            SELECT s.id, s.title, m.id, m.role, -bm25(message_search), m.created_at, 1, message_search.rowid
            FROM message_search
            CROSS JOIN messages m ON m.seq = message_search.rowid
            CROSS JOIN chat_sessions s ON s.id = m.session_id
            WHERE message_search MATCH @Words AND s.owner_id = @OwnerId
        ),
        page AS (
            SELECT * FROM hits ORDER BY Rank DESC, CreatedAt DESC, Kind, Row DESC LIMIT @Take OFFSET @Skip
        )
        SELECT page.ChatId, page.Title, page.MessageId, page.Role, page.Rank, page.CreatedAt,
               CASE page.Kind WHEN 0 THEN page.Title ELSE substr(m.content, 1, @MaxText) END AS Text,
               coalesce(m.on_path = 0, 0) AS OffPath
        FROM page
        LEFT JOIN messages m ON page.Kind = 1 AND m.seq = page.Row
        ORDER BY page.Rank DESC, page.CreatedAt DESC, page.Kind, page.Row DESC
        """;

    protected override Task BeforeSearchAsync(CancellationToken cancellationToken) => index.CatchUpAsync(cancellationToken);

    /// <summary>Each word as an FTS5 string (a quoted phrase; quotes doubled, though words hold none), all required.</summary>
    protected override string Terms(SearchWords words) =>
        string.Join(' ', words.Words.Select(w => "\"" + w.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
}
