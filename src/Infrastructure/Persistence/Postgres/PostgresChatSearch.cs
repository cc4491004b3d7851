using MeatLizard.Application.Search;
using MeatLizard.Infrastructure.Persistence.Sql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// Search by the tsvector columns of chat_sessions and messages and their GIN indexes (migration 0029), ranked by
/// ts_rank scaled down by the length of the text (so a short title that names the words ranks well).
/// </summary>
internal sealed class PostgresChatSearch(PostgresSession session) : SqlChatSearch(session)
{
    // plainto_tsquery reads the words as plain terms joined by AND; the vectors (migration 0029) were made from text
    // whose ASCII punctuation became spaces, so the words are found as FTS5 finds them. The text is read for the page
    // alone (snippets are made from it), by the message's id.
    protected override string Sql => """
        WITH q AS (SELECT plainto_tsquery('simple', @Words) AS query),
        hits AS (
            SELECT s.id AS chat_id, s.title, NULL::uuid AS message_id, NULL::text AS role,
                   ts_rank(s.search_vector, q.query, 1)::float8 AS rank, s.created_at, 0 AS kind, s.seq AS row_order
            FROM q, chat_sessions s
            WHERE s.search_vector @@ q.query AND s.owner_id = @OwnerId
            UNION ALL
            SELECT s.id, s.title, m.id, m.role::text, ts_rank(m.search_vector, q.query, 1)::float8, m.created_at, 1, m.seq
            FROM q, messages m
            JOIN chat_sessions s ON s.id = m.session_id
            WHERE m.search_vector @@ q.query AND s.owner_id = @OwnerId
        ),
        page AS (
            SELECT * FROM hits ORDER BY rank DESC, created_at DESC, kind, row_order DESC LIMIT @Take OFFSET @Skip
        )
        SELECT p.chat_id AS ChatId, p.title AS Title, p.message_id AS MessageId, p.role AS Role, p.rank AS Rank,
               p.created_at AS CreatedAt,
               CASE p.kind WHEN 0 THEN p.title ELSE left(m.content, @MaxText) END AS Text,
               coalesce(NOT m.on_path, false) AS OffPath
        FROM page p
        LEFT JOIN messages m ON p.kind = 1 AND m.id = p.message_id
        ORDER BY p.rank DESC, p.created_at DESC, p.kind, p.row_order DESC
        """;

    /// <summary>The words as plain text: plainto_tsquery makes them terms joined by AND.</summary>
    protected override string Terms(SearchWords words) => words.ToString();
}
