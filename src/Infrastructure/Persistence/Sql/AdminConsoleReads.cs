using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The admin console's audit pages and the dashboard's stored requests; one SQL for both databases.</summary>
internal sealed class SqlAdminConsoleReads(IDatabaseSession session) : IAdminConsoleReads
{
    public async Task<IReadOnlyList<AuditRowDto>> ListAuditAsync(AuditFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var rows = await session.QueryAsync<AuditLogRow>($"""
            SELECT id AS Id, occurred_at AS At, actor AS Actor, command AS Command, arguments AS Arguments,
                   outcome AS Outcome, detail AS Detail
            FROM audit_log
            WHERE 1 = 1
            {(filter.Before is null ? "" : "AND id < @Before")}
            {(filter.Actor is null ? "" : @"AND LOWER(actor) LIKE @Actor ESCAPE '\'")}
            {(filter.Command is null ? "" : "AND command = @Command")}
            ORDER BY id DESC
            LIMIT @Limit
            """, new
        {
            filter.Before,
            Actor = filter.Actor is null ? null : SqlLike.Containing(filter.Actor),
            filter.Command,
            Limit = Math.Max(0, filter.Limit),
        }, cancellationToken);
        return [.. rows.Select(r => new AuditRowDto(r.Id, r.At, r.Actor, r.Command, r.Arguments, r.Outcome, r.Detail))];
    }

    public async Task<IReadOnlyList<MetricSample>> ListMetricSamplesAsync(
        DateTimeOffset from, DateTimeOffset to, int max, CancellationToken cancellationToken)
    {
        // The source as the messages table names it: a fallback reply, a notice (a failed request), else the model's.
        var rows = await session.QueryAsync<SampleRow>("""
            SELECT recorded_at AS RecordedAt, queue_ms AS QueueMs, relay_ms AS RelayMs, inference_ms AS InferenceMs,
                   prompt_ms AS PromptMs, generation_ms AS GenerationMs, completion_tokens AS CompletionTokens,
                   CASE WHEN fallback THEN 'fallback'
                        WHEN outcome = 'failed' THEN 'notice'
                        WHEN outcome = 'cancelled' THEN 'cancelled'
                        ELSE 'model' END AS Source,
                   worker_id AS WorkerId, first_token_ms AS FirstTokenMs
            FROM metrics
            WHERE recorded_at >= @From AND recorded_at < @To
            ORDER BY recorded_at
            LIMIT @Max
            """, new { From = from, To = to, Max = Math.Max(0, max) }, cancellationToken);
        return [.. rows.Select(r => new MetricSample(r.RecordedAt, r.QueueMs, r.RelayMs, r.InferenceMs, r.PromptMs,
            r.GenerationMs, r.CompletionTokens, r.Source, r.WorkerId, r.FirstTokenMs))];
    }

    public async Task<IReadOnlyList<UserUsageRow>> ListUsageAsync(DateTimeOffset from, DateTimeOffset to, Guid? userId,
        CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<UsageRow>($"""
            SELECT g.user_id AS UserId, u.username AS Username, g.kind AS Kind,
                   CAST(SUM(g.requests) AS bigint) AS Requests, CAST(SUM(g.inputs) AS bigint) AS Inputs,
                   CAST(SUM(g.prompt_tokens) AS bigint) AS PromptTokens,
                   CAST(SUM(g.completion_tokens) AS bigint) AS CompletionTokens
            FROM user_usage g JOIN users u ON u.id = g.user_id
            WHERE g.day >= @From AND g.day < @To
            {(userId is null ? "" : "AND g.user_id = @UserId")}
            GROUP BY g.user_id, u.username, g.kind
            """, new { From = from, To = to, UserId = userId }, cancellationToken);
        return [.. rows.Select(r => new UserUsageRow(r.UserId, r.Username, r.Kind, r.Requests, r.Inputs, r.PromptTokens,
            r.CompletionTokens))];
    }

    private sealed class UsageRow
    {
        public Guid UserId { get; init; }

        public string Username { get; init; } = "";

        public string Kind { get; init; } = "";

        public long Requests { get; init; }

        public long Inputs { get; init; }

        public long PromptTokens { get; init; }

        public long CompletionTokens { get; init; }
    }

    private sealed class SampleRow
    {
        public DateTimeOffset RecordedAt { get; init; }

        public int QueueMs { get; init; }

        public int RelayMs { get; init; }

        public int? InferenceMs { get; init; }

        public double? PromptMs { get; init; }

        public double? GenerationMs { get; init; }

        public int CompletionTokens { get; init; }

        public string Source { get; init; } = "";

        public Guid? WorkerId { get; init; }

        public int? FirstTokenMs { get; init; }
    }
}

/// <summary>A LIKE pattern that matches its text anywhere, in lower case, with <c>\</c> escaping LIKE's own signs.</summary>
internal static class SqlLike
{
    public static string Containing(string text) =>
        "%" + text.ToLowerInvariant().Replace(@"\", @"\\", StringComparison.Ordinal)
            .Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%";
}

/// <summary>One row of table <c>audit_log</c> as both its readers take it.</summary>
internal sealed class AuditLogRow
{
    public long Id { get; init; }

    public DateTimeOffset At { get; init; }

    public string Actor { get; init; } = "";

    public string Command { get; init; } = "";

    public string? Arguments { get; init; }

    public string Outcome { get; init; } = "";

    public string? Detail { get; init; }
}
