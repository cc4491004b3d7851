using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Infrastructure.Persistence.Sql;
using Npgsql;
using NpgsqlTypes;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// The outbox and the dispatchers' queue. "Oldest first" is by creation time, then by insertion order (<c>seq</c>) for
/// requests made in the same instant.
/// </summary>
internal sealed class PostgresRelayRequestRepository(
    PostgresSession session, PostgresAnswerWriter answers, PostgresQueueWriter queue)
    : RelayRequestStore(session, SqlDialect.Postgres), IRelayRequestRepository
{
    private static readonly string Columns = ColumnsOf(SqlDialect.Postgres, "r.");

    public Task AddAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return session.ExecuteLaterAsync(RelayRequestValues.Add, new RelayRequestValues(request), cancellationToken);
    }

    /// <summary>
    /// A new request's columns with the run of the host it was sent to (<see cref="RelayRequestValues.Add"/>'s), for rows
    /// selected from the unnested <see cref="StateArrays"/>: a question placed on a host before its write is stored
    /// already dispatched.
    /// </summary>
    internal const string InsertRequest = $"INSERT INTO relay_requests ({RelayRequestValues.InsertColumns}, sent_to_run)";

    /// <summary>
    /// One statement over arrays, one element per request (so one round trip for a whole batch); the status in the
    /// WHERE clause (with the attempt: <see cref="Sql.RelayRequestValues.NoLaterAttempt"/>) makes each row's check and
    /// write one, as in <see cref="TryUpdateAsync"/>.
    /// </summary>
    public async Task<IReadOnlySet<RelayRequestId>> TryUpdateManyAsync(
        IReadOnlyCollection<RelayRequest> requests, RelayRequestStatus expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var stored = new HashSet<RelayRequestId>();
        if (requests.Count == 0)
        {
            return stored;
        }

        await using var command = await session.CreateCommandAsync($"""
            {UpdateStateFromV}
            FROM unnest({StateArrays}) AS v ({StateColumns})
            WHERE r.id = v.id AND r.status = @Expected AND r.attempts <= v.attempts
            RETURNING r.id
            """, cancellationToken);
        var parameters = command.Parameters;
        AddStateArrays(parameters, requests);
        parameters.AddWithValue("Expected", NpgsqlDbType.Text, SqlValues.Lower(expected));

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            stored.Add(new RelayRequestId(reader.GetGuid(0)));
        }

        return stored;
    }

    /// <summary>
    /// One statement: the answer is inserted from the row the conditional update returns, so it is stored exactly
    /// when the request is, with no transaction to open and close around the two. Outside a unit of work the
    /// statement is shared with the answers other scopes of the process store meanwhile (<see cref="PostgresAnswerWriter"/>).
    /// </summary>
    public async Task<bool> TryUpdateWithAnswerAsync(
        RelayRequest request, RelayRequestStatus expected, Message answer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(answer);
        return await answers.TryStoreAsync(session, request, expected, answer, cancellationToken);
    }

    /// <summary>
    /// One statement: the chat's conditional update decides, and the message and the request are inserted from the row
    /// it returns. The chat's version is its row's <c>xmin</c>; a send that raced this one and committed first changed
    /// it, so of two sends that read the same chat only one queues (the other's recheck of the updated row fails).
    /// Outside a unit of work the statement is shared with the sends other scopes of the process queue meanwhile
    /// (<see cref="PostgresQueueWriter"/>).
    /// </summary>
    public Task<string?> TryQueueAsync(Chat chat, string chatVersion, Message message, RelayRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(request);
        return queue.TryQueueAsync(session, chat, chatVersion, message, request, cancellationToken);
    }

    /// <summary>
    /// One statement. The inner SELECT locks the claimable rows first in turn over their users (every user's oldest,
    /// then every user's second, …: the queue is fair to people, not to whoever sent most) and skips rows another dispatcher is claiming
    /// right now (SKIP LOCKED), so concurrent dispatchers never wait on each other nor get the same row; the lease
    /// written with the lock keeps the row theirs after the statement commits. The claimed rows are joined with their
    /// chats and, per chat, the same newest turns of the current path as <see cref="SqlChatReadModel.GetRecentTurnsAsync"/> reads (its
    /// LATERAL subquery walks the chat's index from the newest message and stops at the limit), gathered into arrays
    /// in order: roles, contents, the answers' tool calls and the calls the tool results answer.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedRequest>> ClaimPendingAsync(int max, int historyMessages,
        DateTimeOffset now, DateTimeOffset leaseUntil, string claimer, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(claimer);
        return await session.QueryAsync<RelayRequestRow, ChatRow, HistoryRow, ClaimedRequest>($"""
            WITH claimed AS (
                UPDATE relay_requests r
                SET claimed_until = @LeaseUntil, claimed_by = @Claimer
                FROM (SELECT id
                      FROM relay_requests
                      WHERE id IN (SELECT id
                                   FROM (SELECT id, created_at, seq,
                                                row_number() OVER (PARTITION BY user_id ORDER BY created_at, seq) AS turn
                                         FROM relay_requests
                                         WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until <= @Now)) t
                                   ORDER BY turn, created_at, seq
                                   LIMIT @Max)
                        -- Checked again on the row as locked: another dispatcher may have claimed it meanwhile.
                        AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= @Now)
                      FOR UPDATE SKIP LOCKED) claimable
                WHERE r.id = claimable.id
                RETURNING r.*)
            SELECT {Columns}, {ChatRow.Columns}, h.roles AS HistoryRoles, h.contents AS HistoryContents,
                   h.tool_calls AS HistoryToolCalls, h.tool_call_ids AS HistoryToolCallIds, h.images AS HistoryImages
            FROM claimed r
            LEFT JOIN chat_sessions s ON s.id = r.session_id
            LEFT JOIN LATERAL (SELECT array_agg(t.role::text ORDER BY t.seq) AS roles,
                                      array_agg(t.content ORDER BY t.seq) AS contents,
                                      array_agg(t.tool_calls ORDER BY t.seq) AS tool_calls,
                                      array_agg(t.tool_call_id ORDER BY t.seq) AS tool_call_ids,
                                      array_agg(t.images ORDER BY t.seq) AS images
                               FROM (SELECT seq, role, content, tool_calls, tool_call_id, images
                                     FROM messages
                                     WHERE session_id = s.id AND on_path AND source IN ('user', 'model')
                                     ORDER BY seq DESC
                                     LIMIT @HistoryMessages) t) h ON true
            ORDER BY r.created_at, r.seq
            """,
            new
            {
                Max = Math.Max(0, max),
                HistoryMessages = Math.Max(0, historyMessages),
                Now = PgValues.Instant(now),
                LeaseUntil = PgValues.Instant(leaseUntil),
                Claimer = claimer,
            },
            // No chat, no turns: the LATERAL reads by the joined chat's id, so its arrays are null too.
            static (request, chat, history) =>
                new ClaimedRequest(request.ToRequest(), chat?.ToSession(), history?.ToTurns() ?? []),
            splitOn: "Id,HistoryRoles", cancellationToken);
    }

    /// <summary>A batch of requests' states as arrays, one element per request (<see cref="AddStateArrays"/>).</summary>
    internal const string StateArrays = """
        @Ids, @Statuses, @Attempts, @LastSeqs, @DispatchedAt, @AckedAt, @AckDeadlines, @CompletionDeadlines,
        @FinishedAt, @AnswerMessageIds, @TimeoutReasons, @Errors, @WorkerIds, @RoutedModels, @FirstPiecesAt, @AckedByRuns,
        @SentToRuns
        """;

    /// <summary>The names of <see cref="StateArrays"/>' columns once unnested.</summary>
    internal const string StateColumns = """
        id, status, attempts, last_seq, dispatched_at, acked_at, ack_deadline, completion_deadline, finished_at,
        answer_message_id, timeout_reason, error, worker_id, routed_model, first_piece_at, acked_by_run, sent_to_run
        """;

    /// <summary>
    /// Writes each request's state from the unnested row <c>v</c> that the statement joins to it, ending any
    /// dispatcher's claim as <see cref="Sql.RelayRequestValues.UpdateState"/> does.
    /// </summary>
    internal const string UpdateStateFromV = """
        UPDATE relay_requests r
        SET status = v.status, attempts = v.attempts, last_seq = v.last_seq, dispatched_at = v.dispatched_at,
            acked_at = v.acked_at, ack_deadline = v.ack_deadline, completion_deadline = v.completion_deadline,
            finished_at = v.finished_at, answer_message_id = v.answer_message_id,
            timeout_reason = v.timeout_reason, error = v.error, worker_id = v.worker_id,
            routed_model = v.routed_model, first_piece_at = v.first_piece_at, acked_by_run = v.acked_by_run,
            sent_to_run = v.sent_to_run, claimed_until = NULL
        """;

    internal static void AddStateArrays(NpgsqlParameterCollection parameters, IReadOnlyCollection<RelayRequest> requests)
    {
        parameters.AddWithValue("Ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, requests.Select(r => r.Id.Value).ToArray());
        parameters.AddWithValue("Statuses", NpgsqlDbType.Array | NpgsqlDbType.Text,
            requests.Select(r => SqlValues.Lower(r.Status)).ToArray());
        parameters.AddWithValue("Attempts", NpgsqlDbType.Array | NpgsqlDbType.Integer, requests.Select(r => r.Attempts).ToArray());
        parameters.AddWithValue("LastSeqs", NpgsqlDbType.Array | NpgsqlDbType.Integer, requests.Select(r => r.LastSeq).ToArray());
        parameters.AddWithValue("DispatchedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => r.DispatchedAt?.UtcDateTime).ToArray());
        parameters.AddWithValue("AckedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => r.AckedAt?.UtcDateTime).ToArray());
        parameters.AddWithValue("AckDeadlines", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => r.AckDeadline?.UtcDateTime).ToArray());
        parameters.AddWithValue("CompletionDeadlines", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => r.CompletionDeadline?.UtcDateTime).ToArray());
        parameters.AddWithValue("FinishedAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => r.FinishedAt?.UtcDateTime).ToArray());
        parameters.AddWithValue("AnswerMessageIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            requests.Select(r => r.AnswerMessageId?.Value).ToArray());
        parameters.AddWithValue("TimeoutReasons", NpgsqlDbType.Array | NpgsqlDbType.Text,
            requests.Select(r => SqlValues.Lower(r.TimeoutReason)).ToArray());
        parameters.AddWithValue("Errors", NpgsqlDbType.Array | NpgsqlDbType.Text, requests.Select(r => r.Error).ToArray());
        parameters.AddWithValue("WorkerIds", NpgsqlDbType.Array | NpgsqlDbType.Uuid, requests.Select(r => r.WorkerId).ToArray());
        parameters.AddWithValue("RoutedModels", NpgsqlDbType.Array | NpgsqlDbType.Text, requests.Select(r => r.RoutedModel).ToArray());
        parameters.AddWithValue("FirstPiecesAt", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            requests.Select(r => r.FirstPieceAt?.UtcDateTime).ToArray());
        parameters.AddWithValue("AckedByRuns", NpgsqlDbType.Array | NpgsqlDbType.Uuid, requests.Select(r => r.AckedByRun).ToArray());
        parameters.AddWithValue("SentToRuns", NpgsqlDbType.Array | NpgsqlDbType.Uuid, requests.Select(r => r.SentToRun).ToArray());
    }

    // Expected is used by the conditional update only; the other statements leave it unbound.
    /// <summary>
    /// A chat's recent turns as two arrays of one length, oldest first. Dapper reads the row as null when the chat has
    /// none (the first array is null).
    /// </summary>
    private sealed class HistoryRow
    {
        public string[]? HistoryRoles { get; init; }

        public string[]? HistoryContents { get; init; }

        public string?[]? HistoryToolCalls { get; init; }

        public string?[]? HistoryToolCallIds { get; init; }

        public string?[]? HistoryImages { get; init; }

        public IReadOnlyList<ChatTurn> ToTurns()
        {
            if (HistoryRoles is null || HistoryContents is null)
            {
                return [];
            }

            var turns = new ChatTurn[HistoryRoles.Length];
            for (var i = 0; i < turns.Length; i++)
            {
                turns[i] = ToolCallsJson.Turn(HistoryRoles[i], HistoryContents[i], HistoryToolCalls?[i], HistoryToolCallIds?[i],
                    HistoryImages?[i]);
            }

            return turns;
        }
    }
}
