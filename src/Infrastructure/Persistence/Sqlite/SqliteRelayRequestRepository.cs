using System.Globalization;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Infrastructure.Persistence.Sql;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>The outbox. "Oldest first" is by creation time, then by insertion order for requests made in the same millisecond.</summary>
internal sealed class SqliteRelayRequestRepository(SqliteSession session)
    : RelayRequestStore(session, SqlDialect.Sqlite), IRelayRequestRepository
{
    private static readonly string Columns = ColumnsOf(SqlDialect.Sqlite, "");

    public Task AddAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return session.ExecuteAsync(RelayRequestValues.Add, new RelayRequestValues(request), cancellationToken);
    }

    /// <summary>
    /// In one transaction (SQLite has one writer at a time, so nothing fits between the check and the writes): the
    /// chat's conditional update (its time, and its title as the send left it), then the message and the request.
    /// </summary>
    public Task<string?> TryQueueAsync(Chat chat, string chatVersion, Message message, RelayRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(request);
        if (!long.TryParse(chatVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var seen))
        {
            return Task.FromResult<string?>(null);
        }

        return session.InTransactionAsync<string?>(async ct =>
        {
            var updatedAt = SqlValues.Millis(chat.UpdatedAt);
            var updated = await session.ExecuteAsync("""
                UPDATE chat_sessions SET updated_at = @UpdatedAt, title = @Title
                WHERE id = @Id AND updated_at = @Seen AND status = 'active'
                  AND NOT EXISTS (SELECT 1 FROM relay_requests r
                                  WHERE r.session_id = @Id AND r.status IN ('pending', 'dispatched', 'streaming'))
                """, new { Id = SqlValues.Text(chat.Id.Value), Seen = seen, UpdatedAt = updatedAt, Title = chat.Title.Value }, ct);
            if (updated != 1)
            {
                return null;
            }

            await new SqlMessageRepository(session).AddAsync(message, ct);
            await AddAsync(request, ct);
            return Version(updatedAt);
        }, cancellationToken);
    }

    /// <summary>
    /// A chat's version on SQLite is its <c>updated_at</c> (milliseconds), which every change of the chat sets. Two changes
    /// within one millisecond look like one; since every write is serialised by the one writer, what that can miss is
    /// a settings change landing in the same millisecond as a send that read the chat before it, the same outcome as
    /// the change landing just after the send. It is spelled as <see cref="SqlDialect.RowVersion"/> reads it.
    /// </summary>
    private static string Version(long updatedAt) => updatedAt.ToString(CultureInfo.InvariantCulture);


    /// <summary>SQLite runs in this process: the update, then the answer, under one write turn and transaction.</summary>
    public async Task<bool> TryUpdateWithAnswerAsync(
        RelayRequest request, RelayRequestStatus expected, Message answer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return await session.InTransactionAsync(async ct =>
        {
            if (!await TryUpdateAsync(request, expected, ct))
            {
                return false;
            }

            await new SqlMessageRepository(session).AddAsync(answer, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// SQLite runs in this process, so a statement costs no round trip: the one-request update runs for each, under one
    /// write turn and transaction (joining the caller's, if one runs).
    /// </summary>
    public async Task<IReadOnlySet<RelayRequestId>> TryUpdateManyAsync(
        IReadOnlyCollection<RelayRequest> requests, RelayRequestStatus expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0)
        {
            return new HashSet<RelayRequestId>();
        }

        return await session.InTransactionAsync(async ct =>
        {
            var stored = new HashSet<RelayRequestId>();
            foreach (var request in requests)
            {
                if (await TryUpdateAsync(request, expected, ct))
                {
                    stored.Add(request.Id);
                }
            }

            return stored;
        }, cancellationToken);
    }

    protected override void ClaimEnded(RelayRequestId id) => session.Claims.End(SqlValues.Text(id.Value));

    public override async Task ReleaseClaimsAsync(IReadOnlyCollection<RelayRequestId> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        session.Claims.End([.. ids.Select(i => SqlValues.Text(i.Value))]);
        // Leases an earlier build wrote.
        await base.ReleaseClaimsAsync(ids, cancellationToken);
    }

    public override async Task<int> ReleaseClaimsOfAsync(string claimer, CancellationToken cancellationToken) =>
        session.Claims.EndAllOf(claimer) + await base.ReleaseClaimsOfAsync(claimer, cancellationToken);

    /// <summary>Each claimer's earliest lease, earliest first: the claims held here, and leases an earlier build wrote.</summary>
    public override async Task<IReadOnlyList<HeldClaims>> ListClaimsHeldAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        [.. session.Claims.ClaimersAt(SqlValues.Millis(now)).Select(c => new HeldClaims(c.Claimer, SqlValues.ToInstant(c.RunsOutAt)))
            .Concat(await base.ListClaimsHeldAsync(now, cancellationToken))
            .GroupBy(c => c.Claimer, StringComparer.Ordinal)
            .Select(g => g.MinBy(c => c.RunsOutAt)!)
            .OrderBy(c => c.RunsOutAt)];

    /// <summary>
    /// The claim: the claimable requests read, and claimed in this process (<see cref="SqliteClaims"/>: nothing written),
    /// one claim at a time; then the claimed requests' chats and their histories in two reads: SQLite runs in this
    /// process, so a statement costs no round trip. The history read is <see cref="SqlChatReadModel.GetRecentTurnsAsync"/>'s
    /// for many chats at once: its subquery, run once per chat, walks the chat's index from the newest message and stops
    /// at the limit.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedRequest>> ClaimPendingAsync(int max, int historyMessages,
        DateTimeOffset now, DateTimeOffset leaseUntil, string claimer, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(claimer);
        var claims = session.Claims;
        IReadOnlyList<RelayRequestRow> rows;
        await claims.Turn.WaitAsync(cancellationToken);
        try
        {
            var nowMillis = SqlValues.Millis(now);
            rows = await session.QueryAsync<RelayRequestRow>($"""
                SELECT {Columns}
                FROM relay_requests
                WHERE rowid IN (SELECT rowid
                                FROM (SELECT rowid, created_at,
                                             ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created_at, rowid) AS turn
                                      FROM relay_requests
                                      WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until <= @Now)
                                        AND id NOT IN (SELECT value FROM json_each(@Held)))
                                ORDER BY turn, created_at, rowid
                                LIMIT @Max)
                """, new { Max = Math.Max(0, max), Now = nowMillis, Held = claims.HeldAt(nowMillis) }, cancellationToken);
            claims.Take(rows.Select(r => SqlValues.Text(r.Id)), claimer, SqlValues.Millis(leaseUntil));
        }
        finally
        {
            claims.Turn.Release();
        }

        if (rows.Count == 0)
        {
            return [];
        }

        var requests = ToRequests(rows.OrderBy(r => r.CreatedAt).ThenBy(r => r.Seq).ToList());
        var chatIds = SqlValues.JsonArray(requests.Select(r => r.ChatId.Value).Distinct());
        var chats = (await session.QueryAsync<ChatRow>(
                $"SELECT {ChatRow.Columns} FROM chat_sessions s WHERE s.id IN (SELECT value FROM json_each(@Ids))",
                new { Ids = chatIds }, cancellationToken))
            .Select(r => r.ToSession())
            .ToDictionary(c => c.Id);
        var turns = historyMessages <= 0
            ? []
            : await session.QueryAsync<ChatTurnRow>("""
                SELECT m.session_id AS ChatId, m.role AS Role, m.content AS Content, m.tool_calls AS ToolCalls,
                       m.tool_call_id AS ToolCallId, m.images AS Images
                FROM json_each(@Ids) s
                JOIN messages m ON m.seq IN (SELECT seq
                                             FROM messages
                                             WHERE session_id = s.value AND on_path AND source IN ('user', 'model')
                                             ORDER BY seq DESC
                                             LIMIT @Limit)
                ORDER BY m.seq
                """, new { Ids = chatIds, Limit = historyMessages }, cancellationToken);
        // Grouping keeps each chat's turns in the rows' order: oldest first.
        var histories = turns.GroupBy(t => new ChatId(SqlValues.ToGuid(t.ChatId))).ToDictionary(
            g => g.Key,
            g => (IReadOnlyList<ChatTurn>)g.Select(t => ToolCallsJson.Turn(t.Role, t.Content, t.ToolCalls, t.ToolCallId, t.Images))
                .ToArray());

        return requests.Select(r => chats.TryGetValue(r.ChatId, out var chat)
                ? new ClaimedRequest(r, chat, histories.GetValueOrDefault(r.ChatId) ?? [])
                : new ClaimedRequest(r, null, []))
            .ToArray();
    }

    private sealed class ChatTurnRow
    {
        public string ChatId { get; init; } = "";

        public string Role { get; init; } = "";

        public string Content { get; init; } = "";

        public string? ToolCalls { get; init; }

        public string? ToolCallId { get; init; }

        public string? Images { get; init; }
    }
}
