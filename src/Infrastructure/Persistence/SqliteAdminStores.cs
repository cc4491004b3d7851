using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence;

internal sealed class SqliteAuditLog(SqliteSession session) : IAuditLog
{
    public Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return session.ExecuteAsync("""
            INSERT INTO audit_log (occurred_at, actor, command, arguments, outcome, detail)
            VALUES (@At, @Actor, @Command, @Arguments, @Outcome, @Detail)
            """, new
        {
            At = SqlValues.Millis(entry.At),
            entry.Actor,
            entry.Command,
            entry.Arguments,
            Outcome = SqlValues.Lower(entry.Outcome),
            entry.Detail,
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListRecentAsync(int max, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<AuditRow>("""
            SELECT occurred_at AS At, actor AS Actor, command AS Command, arguments AS Arguments, outcome AS Outcome,
                   detail AS Detail
            FROM audit_log
            ORDER BY id DESC
            LIMIT @Max
            """, new { Max = Math.Max(0, max) }, cancellationToken);
        return rows.Select(r => new AuditEntry(SqlValues.ToInstant(r.At), r.Actor, r.Command, r.Arguments,
            SqlValues.ToEnum<AuditOutcome>(r.Outcome), r.Detail)).ToArray();
    }

    private sealed class AuditRow
    {
        public long At { get; init; }

        public string Actor { get; init; } = "";

        public string Command { get; init; } = "";

        public string? Arguments { get; init; }

        public string Outcome { get; init; } = "";

        public string? Detail { get; init; }
    }
}

internal sealed class SqliteSettingsStore(SqliteSession session) : ISettingsStore
{
    public async Task<IReadOnlyList<SettingEntry>> ListAsync(CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<SettingRow>(
            "SELECT key AS Key, value AS Value, updated_at AS UpdatedAt, updated_by AS UpdatedBy FROM settings ORDER BY key",
            null, cancellationToken);
        return rows.Select(r => new SettingEntry(r.Key, r.Value, SqlValues.ToInstant(r.UpdatedAt), r.UpdatedBy)).ToArray();
    }

    public Task SetAsync(SettingEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return session.ExecuteAsync("""
            INSERT INTO settings (key, value, updated_at, updated_by) VALUES (@Key, @Value, @UpdatedAt, @UpdatedBy)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                                            updated_by = excluded.updated_by
            """, new { entry.Key, entry.Value, UpdatedAt = SqlValues.Millis(entry.UpdatedAt), entry.UpdatedBy },
            cancellationToken);
    }

    public async Task<bool> RemoveAsync(string key, CancellationToken cancellationToken) =>
        await session.ExecuteAsync("DELETE FROM settings WHERE key = @Key", new { Key = key }, cancellationToken) > 0;

    private sealed class SettingRow
    {
        public string Key { get; init; } = "";

        public string Value { get; init; } = "";

        public long UpdatedAt { get; init; }

        public string? UpdatedBy { get; init; }
    }
}

internal sealed class SqliteAdminReadModel(SqliteSession session) : IAdminReadModel
{
    public async Task<IReadOnlyList<AdminSessionDto>> ListSessionsAsync(
        UserId? ownerId, int max, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<SessionRow>($"""
            SELECT s.id AS Id, s.title AS Title, s.status AS Status, s.owner_id AS OwnerId, u.username AS OwnerName,
                   (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS Messages, s.updated_at AS UpdatedAt
            FROM chat_sessions s
            JOIN users u ON u.id = s.owner_id
            {(ownerId is null ? "" : "WHERE s.owner_id = @OwnerId")}
            ORDER BY s.updated_at DESC, s.rowid DESC
            LIMIT @Max
            """, new { OwnerId = SqlValues.Text(ownerId?.Value), Max = Math.Max(0, max) }, cancellationToken);
        return rows.Select(r => new AdminSessionDto(SqlValues.ToGuid(r.Id), r.Title, r.Status,
            SqlValues.ToGuid(r.OwnerId), r.OwnerName, (int)r.Messages, SqlValues.ToInstant(r.UpdatedAt))).ToArray();
    }

    public async Task<MetricsSummary> GetMetricsSummaryAsync(
        DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        // Tokens per second is generation speed where the engine reported its timings, else over the worker's time.
        var range = new { From = SqlValues.Millis(from), To = SqlValues.Millis(to) };
        var totals = (await session.QueryAsync<TotalsRow>("""
            SELECT COUNT(*) AS Requests,
                   COALESCE(SUM(fallback), 0) AS Fallbacks,
                   COALESCE(SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END), 0) AS Errors,
                   COALESCE(SUM(CASE WHEN COALESCE(generation_ms, inference_ms) > 0 THEN completion_tokens ELSE 0 END), 0) AS Tokens,
                   TOTAL(CASE WHEN COALESCE(generation_ms, inference_ms) > 0 THEN COALESCE(generation_ms, inference_ms) ELSE 0 END) AS InferenceMs
            FROM metrics
            WHERE recorded_at >= @From AND recorded_at < @To
            """, range, cancellationToken))[0];
        var requests = (int)totals.Requests;
        return new MetricsSummary(from, to, requests,
            await LatencyAtAsync(0.50, requests, range.From, range.To, cancellationToken),
            await LatencyAtAsync(0.95, requests, range.From, range.To, cancellationToken),
            totals.InferenceMs > 0 ? totals.Tokens * 1000.0 / totals.InferenceMs : null,
            (int)totals.Fallbacks,
            (int)totals.Errors);
    }

    /// <summary>The nearest-rank percentile of the requests' latency.</summary>
    private async Task<int?> LatencyAtAsync(double percentile, int count, long from, long to, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(percentile * count);
        var rows = await session.QueryAsync<long>("""
            SELECT queue_ms + relay_ms + COALESCE(inference_ms, 0) AS latency
            FROM metrics
            WHERE recorded_at >= @From AND recorded_at < @To
            ORDER BY latency
            LIMIT 1 OFFSET @Offset
            """, new { From = from, To = to, Offset = Math.Max(0, rank - 1) }, cancellationToken);
        return rows.Count == 0 ? null : (int)rows[0];
    }

    private sealed class SessionRow
    {
        public string Id { get; init; } = "";

        public string Title { get; init; } = "";

        public string Status { get; init; } = "";

        public string OwnerId { get; init; } = "";

        public string OwnerName { get; init; } = "";

        public long Messages { get; init; }

        public long UpdatedAt { get; init; }
    }

    private sealed class TotalsRow
    {
        public long Requests { get; init; }

        public long Fallbacks { get; init; }

        public long Errors { get; init; }

        public long Tokens { get; init; }

        public double InferenceMs { get; init; }
    }
}
