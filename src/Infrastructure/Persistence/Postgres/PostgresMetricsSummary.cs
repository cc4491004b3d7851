using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Sql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

internal sealed class PostgresMetricsSummary(PostgresSession session) : IMetricsSummaryQuery
{
    public async Task<MetricsSummary> GetAsync(
        DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        // percentile_disc is the nearest-rank percentile, as the SQLite store computes it. Tokens per second is
        // generation speed where the engine reported its timings, else over the worker's time.
        var row = (await session.QueryAsync<MetricsTotalsRow>("""
            SELECT COUNT(*) AS Requests,
                   COUNT(*) FILTER (WHERE fallback) AS Fallbacks,
                   COUNT(*) FILTER (WHERE outcome = 'failed') AS Errors,
                   COALESCE(SUM(completion_tokens) FILTER (WHERE COALESCE(generation_ms, inference_ms) > 0), 0) AS Tokens,
                   COALESCE(SUM(COALESCE(generation_ms, inference_ms)) FILTER (WHERE COALESCE(generation_ms, inference_ms) > 0), 0)::double precision AS InferenceMs,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY queue_ms + relay_ms + COALESCE(inference_ms, 0)) AS P50,
                   percentile_disc(0.95) WITHIN GROUP (ORDER BY queue_ms + relay_ms + COALESCE(inference_ms, 0)) AS P95
            FROM metrics
            WHERE recorded_at >= @From AND recorded_at < @To
            """, new { From = PgValues.Instant(from), To = PgValues.Instant(to) }, cancellationToken))[0];
        return new MetricsSummary(from, to, (int)row.Requests, row.P50, row.P95,
            row.TokensPerSecond, (int)row.Fallbacks, (int)row.Errors);
    }
}
