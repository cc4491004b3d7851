using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// The admin's metrics summary, computed the way each database does best: PostgreSQL in one statement with
/// <c>percentile_disc</c>, SQLite (which has no percentile aggregate) with one query per percentile.
/// </summary>
internal interface IMetricsSummaryQuery
{
    Task<MetricsSummary> GetAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}
