using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// Reads for clients. Chats and messages become DTOs through their aggregate and its one mapping
/// (<see cref="DomainToDto"/>), so a list shows what a single read shows; the rest goes straight from SQL into DTOs.
/// </summary>
internal sealed class SqlChatReadModel(IDatabaseSession session, SqlDialect dialect) : IChatReadModel
{
    public async Task<IReadOnlyList<SessionDto>> ListSessionsAsync(UserId ownerId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<ChatRow>($"""
            SELECT {ChatRow.Columns}
            FROM chat_sessions s
            WHERE s.owner_id = @OwnerId
            ORDER BY s.updated_at DESC, s.{dialect.InsertionOrder} DESC
            """, new { OwnerId = ownerId.Value }, cancellationToken);
        return rows.Select(r => r.ToSession().ToDto()).ToArray();
    }

    public async Task<IReadOnlyList<SessionDto>> ListChatsAsync(UserId ownerId, bool archived,
        CancellationToken cancellationToken)
    {
        // The newest message by the (session_id, seq) index: one step per chat, however long the chats are.
        var rows = await session.QueryAsync<ListedChatRow>($"""
            SELECT {ChatRow.Columns}, s.pinned_at AS PinnedAt, s.archived_at AS ArchivedAt, s.folder_id AS FolderId,
                   COALESCE((SELECT m.created_at FROM messages m WHERE m.session_id = s.id ORDER BY m.seq DESC LIMIT 1),
                            s.created_at) AS LastActivity
            FROM chat_sessions s
            WHERE s.owner_id = @OwnerId AND s.archived_at IS {(archived ? "NOT NULL" : "NULL")}
            ORDER BY CASE WHEN s.pinned_at IS NULL THEN 1 ELSE 0 END, s.pinned_at DESC, LastActivity DESC,
                     s.{dialect.InsertionOrder} DESC
            """, new { OwnerId = ownerId.Value }, cancellationToken);
        return rows.Select(r => r.ToSession().ToDto() with
        {
            Pinned = r.PinnedAt is not null, Archived = r.ArchivedAt is not null, FolderId = r.FolderId,
        }).ToArray();
    }

    public async Task<IReadOnlyList<MessageDto>> GetMessagesPageAsync(
        ChatId chatId, MessageId? before, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return [];
        }

        // The cursor must be a message of this session; anything else (unknown, or another chat's) yields nothing.
        var sql = before is null
            ? $"""
               SELECT {MessageRow.Columns}
               FROM messages
               WHERE session_id = @SessionId AND on_path
               ORDER BY seq DESC
               LIMIT @Limit
               """
            : $"""
               SELECT {MessageRow.Columns}
               FROM messages
               WHERE session_id = @SessionId AND on_path
                 AND seq < (SELECT c.seq FROM messages c WHERE c.id = @Before AND c.session_id = @SessionId)
               ORDER BY seq DESC
               LIMIT @Limit
               """;
        var rows = await session.QueryAsync<MessageRow>(sql, new
        {
            SessionId = chatId.Value,
            Before = before?.Value,
            Limit = limit,
        }, cancellationToken);
        return await WithVersionsAsync(chatId, OldestFirst(rows), cancellationToken);
    }

    /// <summary>
    /// Each message of a page of the current path with the versions of its turn: the messages that share its parent
    /// (found by the (session_id, parent_id) index), or the chat's first messages for the first one.
    /// </summary>
    private async Task<IReadOnlyList<MessageDto>> WithVersionsAsync(
        ChatId chatId, MessageDto[] page, CancellationToken cancellationToken)
    {
        if (page.Length == 0)
        {
            return page;
        }

        var parameters = new { SessionId = chatId.Value, First = page[0].Id };
        var siblings = (await session.QueryAsync<SiblingRow>("""
            SELECT s.id AS Id, s.parent_id AS ParentId
            FROM messages s
            WHERE s.session_id = @SessionId
              AND s.parent_id IN (SELECT m.parent_id FROM messages m
                                  WHERE m.session_id = @SessionId AND m.on_path
                                    AND m.seq >= (SELECT f.seq FROM messages f WHERE f.id = @First))
            ORDER BY s.seq
            """, parameters, cancellationToken)).ToList();
        if (page[0].ParentId is null)
        {
            siblings.AddRange(await session.QueryAsync<SiblingRow>("""
                SELECT id AS Id, parent_id AS ParentId FROM messages
                WHERE session_id = @SessionId AND parent_id IS NULL
                ORDER BY seq
                """, parameters, cancellationToken));
        }

        var versions = siblings.ToLookup(s => s.ParentId, s => s.Id);
        return page.Select(m =>
        {
            var ids = versions[m.ParentId].ToList();
            return ids.Count == 0
                ? m with { SiblingIds = [m.Id], SiblingIndex = 0, SiblingCount = 1 }
                : m with { SiblingIds = ids, SiblingIndex = ids.IndexOf(m.Id), SiblingCount = ids.Count };
        }).ToList();
    }

    public async Task<IReadOnlyList<MessageDto>> GetTranscriptAsync(
        ChatId chatId, bool wholeTree, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<MessageRow>($"""
            SELECT {MessageRow.Columns}
            FROM messages
            WHERE session_id = @SessionId {(wholeTree ? "" : "AND on_path")}
            ORDER BY seq
            """, new { SessionId = chatId.Value }, cancellationToken);
        return rows.Select(r => r.ToMessage().ToDto()).ToArray();
    }

    public async Task<IReadOnlyList<ChatTurn>> GetRecentTurnsAsync(
        ChatId chatId, int maxMessages, CancellationToken cancellationToken)
    {
        if (maxMessages <= 0)
        {
            return [];
        }

        // Fallback replies and notices were never said by the model, so the model does not see them.
        var rows = await session.QueryAsync<TurnRow>("""
            SELECT role AS Role, content AS Content, tool_calls AS ToolCalls, tool_call_id AS ToolCallId, images AS Images
            FROM messages
            WHERE session_id = @SessionId AND on_path AND source IN ('user', 'model')
            ORDER BY seq DESC
            LIMIT @Limit
            """, new { SessionId = chatId.Value, Limit = maxMessages }, cancellationToken);
        var turns = new ChatTurn[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[rows.Count - 1 - i];
            turns[i] = ToolCallsJson.Turn(row.Role, row.Content, row.ToolCalls, row.ToolCallId, row.Images);
        }

        return turns;
    }

    /// <summary>Usable keys, oldest first: a revoked key no longer exists for its owner (revoking it again is NotFound).</summary>
    public async Task<IReadOnlyList<ApiKeyDto>> ListApiKeysAsync(UserId ownerId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<ApiKeyListRow>($"""
            SELECT id AS Id, name AS Name, prefix AS Prefix, created_at AS CreatedAt, last_used_at AS LastUsedAt
            FROM api_keys
            WHERE owner_id = @OwnerId AND revoked_at IS NULL
            ORDER BY created_at, {dialect.InsertionOrder}
            """, new { OwnerId = ownerId.Value }, cancellationToken);
        return rows.Select(r => new ApiKeyDto(
            r.Id, r.Name, r.Prefix, r.CreatedAt,
            r.LastUsedAt)).ToArray();
    }

    public async Task<int> CountQueuedAsync(CancellationToken cancellationToken) =>
        (int)await session.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM relay_requests WHERE status IN ('pending', 'dispatched', 'streaming')",
            null, cancellationToken);

    public async Task<int> CountWaitingForModelAsync(string model, bool isDefault, CancellationToken cancellationToken) =>
        (int)await session.ExecuteScalarAsync<long>($"""
            SELECT COUNT(*)
            FROM relay_requests r
            JOIN chat_sessions s ON s.id = r.session_id
            WHERE r.status = 'pending' AND (s.model = @Model {(isDefault ? "OR s.model IS NULL" : "")})
            """, new { Model = model }, cancellationToken);

    public async Task<IReadOnlyDictionary<string, int>> CountWaitingByModelAsync(CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<ModelCount>("""
            SELECT COALESCE(s.model, '') AS Model, CAST(COUNT(*) AS INTEGER) AS Waiting
            FROM relay_requests r
            JOIN chat_sessions s ON s.id = r.session_id
            WHERE r.status = 'pending'
            GROUP BY s.model
            """, null, cancellationToken);
        return rows.ToDictionary(r => r.Model, r => r.Waiting, StringComparer.Ordinal);
    }

    private sealed class ModelCount
    {
        public string Model { get; init; } = "";

        public int Waiting { get; init; }
    }

    // The dispatcher claims pending requests by (created_at, insertion order); count those that go before this one, and it.
    public async Task<int> GetQueuePositionAsync(RelayRequestId requestId, CancellationToken cancellationToken) =>
        (int)await session.ExecuteScalarAsync<long>($"""
            SELECT COUNT(*)
            FROM relay_requests me
            JOIN relay_requests r
              ON r.status = 'pending'
             AND (r.created_at < me.created_at OR (r.created_at = me.created_at AND r.{dialect.InsertionOrder} <= me.{dialect.InsertionOrder}))
            WHERE me.id = @Id AND me.status = 'pending'
            """, new { Id = requestId.Value }, cancellationToken);

    public async Task<IReadOnlyList<string>> GetModelAnswersAsync(UserId ownerId, int max, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return [];
        }

        // The owner's most recently used chats bound the read, so a user with years of chats costs no more.
        return await session.QueryAsync<string>("""
            SELECT m.content
            FROM messages m
            WHERE m.session_id IN (
                    SELECT id FROM chat_sessions WHERE owner_id = @OwnerId ORDER BY updated_at DESC LIMIT @MaxChats)
              AND m.role = 'assistant' AND m.source = 'model'
            ORDER BY m.seq DESC
            LIMIT @Max
            """, new { OwnerId = ownerId.Value, Max = max, MaxChats = ModelAnswerChats }, cancellationToken);
    }

    /// <summary>How many of the owner's most recently used chats the fallback's training answers come from.</summary>
    private const int ModelAnswerChats = 50;

    public async Task<IReadOnlyList<ChannelHolder>> GetChannelHoldersAsync(UserId? ownerId, CancellationToken cancellationToken)
    {
        // Two statements rather than "@OwnerId IS NULL OR ...", so one user's read uses the owner index.
        var ofOwner = ownerId is null ? "" : "AND s.owner_id = @OwnerId";
        var rows = await session.QueryAsync<ChannelHolderRow>($"""
            SELECT s.id AS ChatId, s.owner_id AS OwnerId, c.channel_id AS ChannelId,
                   COALESCE((SELECT MAX(m.seq) FROM messages m WHERE m.session_id = s.id), 0) AS LastUse,
                   EXISTS (SELECT 1 FROM relay_requests r
                           WHERE r.session_id = s.id AND r.status IN ('pending', 'dispatched', 'streaming')) AS Busy
            FROM relay_chat_channels c
            JOIN chat_sessions s ON s.id = c.session_id
            WHERE s.status = 'active'
              {ofOwner}
            ORDER BY LastUse
            """, new { OwnerId = ownerId?.Value }, cancellationToken);
        return rows.Select(r => new ChannelHolder(new ChatId(r.ChatId), new UserId(r.OwnerId), r.ChannelId, r.LastUse,
            r.Busy)).ToList();
    }

    public async Task<IReadOnlyList<Chat>> FindChatsEndingWithAsync(
        UserId ownerId, string lastAnswer, int max, CancellationToken cancellationToken)
    {
        // The owner's chats by the owner index; each one's newest message of its path by the (session_id, seq) index.
        // Each chat is read whole here, so its model and system prompt are compared without reading it again.
        var rows = await session.QueryAsync<ChatRow>($$"""
            SELECT {{ChatRow.Columns}}
            FROM chat_sessions s
            WHERE s.owner_id = @OwnerId AND s.status = 'active'
              AND EXISTS (SELECT 1 FROM messages m
                          WHERE m.seq = (SELECT MAX(n.seq) FROM messages n WHERE n.session_id = s.id AND n.on_path)
                            AND m.role = 'assistant' AND m.content = @LastAnswer)
            ORDER BY s.updated_at DESC, s.{{dialect.InsertionOrder}} DESC
            LIMIT @Max
            """, new { OwnerId = ownerId.Value, LastAnswer = lastAnswer, Max = Math.Max(0, max) }, cancellationToken);
        return rows.Select(r => r.ToSession()).ToList();
    }

    private sealed class ChannelHolderRow
    {
        public Guid ChatId { get; init; }

        public Guid OwnerId { get; init; }

        public string ChannelId { get; init; } = "";

        public long LastUse { get; init; }

        public bool Busy { get; init; }
    }

    private static MessageDto[] OldestFirst(IReadOnlyList<MessageRow> newestFirst)
    {
        var messages = new MessageDto[newestFirst.Count];
        for (var i = 0; i < newestFirst.Count; i++)
        {
            messages[i] = newestFirst[newestFirst.Count - 1 - i].ToMessage().ToDto();
        }

        return messages;
    }

    private sealed class SiblingRow
    {
        public Guid Id { get; init; }

        public Guid? ParentId { get; init; }
    }

    private sealed class TurnRow
    {
        public string Role { get; init; } = "";

        public string Content { get; init; } = "";

        public string? ToolCalls { get; init; }

        public string? ToolCallId { get; init; }

        public string? Images { get; init; }
    }

    private sealed class ApiKeyListRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = "";

        public string Prefix { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset? LastUsedAt { get; init; }
    }
}
