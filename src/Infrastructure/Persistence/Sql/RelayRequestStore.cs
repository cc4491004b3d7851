using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// What the outbox does the same on both databases: the plain reads — "oldest first" is by creation time, then by
/// insertion order (<see cref="SqlDialect.InsertionOrder"/>) for requests made in the same instant — and the plain state
/// updates. Queueing, batched writes and the claim differ as a whole and stay in each database's repository, which
/// derives from this.
/// </summary>
internal abstract class RelayRequestStore(IDatabaseSession session, SqlDialect dialect)
{
    // Built once per dialect, not per scope: a repository is made for every request the host serves.
    private static readonly Dictionary<SqlDialect, Statements> ByDialect = new()
    {
        [SqlDialect.Sqlite] = new Statements(SqlDialect.Sqlite),
        [SqlDialect.Postgres] = new Statements(SqlDialect.Postgres),
    };

    private readonly Statements _sql = ByDialect[dialect];

    /// <summary>A relay_requests row's columns as <see cref="RelayRequestRow"/> reads them, each after <paramref name="prefix"/>.</summary>
    public static string ColumnsOf(SqlDialect dialect, string prefix) => $"""
        {prefix}id AS Id, {prefix}session_id AS ChatId, {prefix}user_id AS UserId,
        {prefix}user_message_id AS UserMessageId, {prefix}temperature AS Temperature, {prefix}top_p AS TopP,
        {prefix}max_tokens AS MaxTokens, {prefix}status AS Status, {prefix}attempts AS Attempts,
        {prefix}last_seq AS LastSeq, {prefix}created_at AS CreatedAt, {prefix}dispatched_at AS DispatchedAt,
        {prefix}acked_at AS AckedAt, {prefix}ack_deadline AS AckDeadline,
        {prefix}completion_deadline AS CompletionDeadline, {prefix}finished_at AS FinishedAt,
        {prefix}answer_message_id AS AnswerMessageId, {prefix}timeout_reason AS TimeoutReason, {prefix}error AS Error,
        {prefix}generation AS Generation, {prefix}worker_id AS WorkerId, {prefix}routed_model AS RoutedModel,
        {prefix}trace_parent AS TraceParent, {prefix}answer_start AS AnswerStart,
        {prefix}first_piece_at AS FirstPieceAt, {prefix}acked_by_run AS AckedByRun, {prefix}sent_to_run AS SentToRun,
        {prefix}{dialect.InsertionOrder} AS Seq
        """;

    public async Task UpdateAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await session.ExecuteAsync($"{RelayRequestValues.UpdateState} WHERE id = @Id", new RelayRequestValues(request), cancellationToken);
        ClaimEnded(request.Id);
    }

    /// <summary>
    /// A request's state was written, which ends any dispatcher's claim on it (the statement clears the stored lease);
    /// a database whose claims are held elsewhere ends them there.
    /// </summary>
    protected virtual void ClaimEnded(RelayRequestId id)
    {
    }

    /// <summary>
    /// The status and attempt in the WHERE clause (<see cref="RelayRequestValues.NoLaterAttempt"/>) make the check and
    /// the write one statement: no other writer fits in between.
    /// </summary>
    public async Task<bool> TryUpdateAsync(
        RelayRequest request, RelayRequestStatus expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (await session.ExecuteAsync(
                $"{RelayRequestValues.UpdateState} WHERE id = @Id AND status = @Expected AND {RelayRequestValues.NoLaterAttempt}",
                new RelayRequestValues(request, expected), cancellationToken) != 1)
        {
            return false;
        }

        ClaimEnded(request.Id);
        return true;
    }

    public async Task<RelayRequest?> GetAsync(RelayRequestId id, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<RelayRequestRow>(_sql.Get, new { Id = id.Value }, cancellationToken);
        return row?.ToRequest();
    }

    public async Task<IReadOnlyList<RelayRequest>> ListPendingAsync(int max, CancellationToken cancellationToken) =>
        ToRequests(await session.QueryAsync<RelayRequestRow>(_sql.ListPending, new { Max = Math.Max(0, max) }, cancellationToken));

    public async Task<IReadOnlyList<RelayRequest>> ListInFlightAsync(CancellationToken cancellationToken) =>
        ToRequests(await session.QueryAsync<RelayRequestRow>(_sql.ListInFlight, null, cancellationToken));

    public virtual async Task<IReadOnlyList<HeldClaims>> ListClaimsHeldAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        dialect == SqlDialect.Postgres
            ? [.. (await session.QueryAsync<ClaimsRow<DateTime>>(
                    _sql.ClaimsHeld, new { Now = Postgres.PgValues.Instant(now) }, cancellationToken))
                .Select(r => new HeldClaims(r.Claimer, Postgres.PgValues.ToInstant(r.RunsOutAt)))]
            : [.. (await session.QueryAsync<ClaimsRow<long>>(
                    _sql.ClaimsHeld, new { Now = SqlValues.Millis(now) }, cancellationToken))
                .Select(r => new HeldClaims(r.Claimer, SqlValues.ToInstant(r.RunsOutAt)))];

    /// <summary>Still pending only, as <see cref="ReleaseClaimsAsync"/>: a request dispatched meanwhile keeps what it has.</summary>
    public virtual async Task<int> ReleaseClaimsOfAsync(string claimer, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(claimer);
        return await session.ExecuteAsync(
            "UPDATE relay_requests SET claimed_until = NULL WHERE claimed_by = @Claimer AND status = 'pending' AND claimed_until IS NOT NULL",
            new { Claimer = claimer }, cancellationToken);
    }

    private sealed class ClaimsRow<TInstant>
    {
        public string? Claimer { get; init; }

        public TInstant RunsOutAt { get; init; } = default!;
    }

    public virtual Task ReleaseClaimsAsync(IReadOnlyCollection<RelayRequestId> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return Task.CompletedTask;
        }

        // Still pending only: a request dispatched or ended meanwhile keeps what it has.
        return dialect == SqlDialect.Postgres
            ? session.ExecuteAsync(
                "UPDATE relay_requests SET claimed_until = NULL WHERE id = ANY(@Ids) AND status = 'pending'",
                new { Ids = ids.Select(i => i.Value).ToArray() }, cancellationToken)
            : session.ExecuteAsync(
                "UPDATE relay_requests SET claimed_until = NULL WHERE id IN (SELECT value FROM json_each(@Ids)) AND status = 'pending'",
                new { Ids = System.Text.Json.JsonSerializer.Serialize(ids.Select(i => SqlValues.Text(i.Value))) },
                cancellationToken);
    }

    public async Task<IReadOnlyList<InFlightCount>> CountInFlightByHostAsync(CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<HostCount>(_sql.CountInFlightByHost, null, cancellationToken);
        return rows.Select(r => new InFlightCount(r.WorkerId, r.RoutedModel, r.Requests)).ToList();
    }

    private sealed class HostCount
    {
        public Guid WorkerId { get; init; }

        public string? RoutedModel { get; init; }

        public int Requests { get; init; }
    }

    public async Task<RelayRequest?> GetUnfinishedForSessionAsync(ChatId chatId, CancellationToken cancellationToken)
    {
        var row = await session.QuerySingleOrDefaultAsync<RelayRequestRow>(
            _sql.GetUnfinishedForSession, new { SessionId = chatId.Value }, cancellationToken);
        return row?.ToRequest();
    }

    public async Task<GenerationOptions> GetOptionsAskedWithAsync(MessageId userMessageId, CancellationToken cancellationToken) =>
        GenerationOptionsJson.Read(await session.QuerySingleOrDefaultAsync<string?>(
            _sql.OptionsAskedWith, new { MessageId = userMessageId.Value }, cancellationToken));

    public static RelayRequest[] ToRequests(IReadOnlyList<RelayRequestRow> rows)
    {
        var requests = new RelayRequest[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            requests[i] = rows[i].ToRequest();
        }

        return requests;
    }

    private sealed class Statements(SqlDialect dialect)
    {
        public string Get { get; } = $"{Select(dialect)} WHERE r.id = @Id";

        public string ListPending { get; } =
            $"{Select(dialect)} WHERE r.status = 'pending' ORDER BY r.created_at, r.{dialect.InsertionOrder} LIMIT @Max";

        public string ListInFlight { get; } =
            $"{Select(dialect)} WHERE r.status IN ('dispatched', 'streaming') ORDER BY r.created_at, r.{dialect.InsertionOrder}";

        public string ClaimsHeld { get; } = """
            SELECT claimed_by AS Claimer, min(claimed_until) AS RunsOutAt
            FROM relay_requests
            WHERE status = 'pending' AND claimed_until > @Now
            GROUP BY claimed_by
            ORDER BY RunsOutAt
            """;

        public string CountInFlightByHost { get; } = """
            SELECT worker_id AS WorkerId, routed_model AS RoutedModel, CAST(COUNT(*) AS INTEGER) AS Requests
            FROM relay_requests
            WHERE status IN ('dispatched', 'streaming') AND worker_id IS NOT NULL
            GROUP BY worker_id, routed_model
            """;

        public string GetUnfinishedForSession { get; } = $"""
            {Select(dialect)}
            WHERE r.session_id = @SessionId AND r.status IN ('pending', 'dispatched', 'streaming')
            ORDER BY r.created_at DESC, r.{dialect.InsertionOrder} DESC
            LIMIT 1
            """;

        public string OptionsAskedWith { get; } = $"""
            SELECT generation FROM relay_requests
            WHERE user_message_id = @MessageId
            ORDER BY created_at DESC, {dialect.InsertionOrder} DESC
            LIMIT 1
            """;

        private static string Select(SqlDialect dialect) => $"SELECT {ColumnsOf(dialect, "r.")} FROM relay_requests r";
    }
}
