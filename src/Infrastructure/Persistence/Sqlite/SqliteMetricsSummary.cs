using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Sql;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

internal sealed class SqliteMetricsSummary(SqliteSession session) : IMetricsSummaryQuery
{
    public async Task<MetricsSummary> GetAsync(
        DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        // Tokens per second is generation speed where the engine reported its timings, else over the worker's time.
        var range = new { From = SqlValues.Millis(from), To = SqlValues.Millis(to) };
        var totals = (await session.QueryAsync<MetricsTotalsRow>("""
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
            totals.TokensPerSecond,
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
}
