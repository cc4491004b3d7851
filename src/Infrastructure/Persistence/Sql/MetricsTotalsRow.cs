namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>The metrics of a time range in one row, as both <see cref="IMetricsSummaryQuery"/> read them.</summary>
internal sealed class MetricsTotalsRow
{
    public long Requests { get; init; }

    public long Fallbacks { get; init; }

    public long Errors { get; init; }

    public long Tokens { get; init; }

    public double InferenceMs { get; init; }

    /// <summary>Read where the database computes the percentiles in the same statement (PostgreSQL).</summary>
    public int? P50 { get; init; }

    /// <summary>Read where the database computes the percentiles in the same statement (PostgreSQL).</summary>
    public int? P95 { get; init; }

    /// <summary>Generation speed where the engine reported its timings, else over the worker's time.</summary>
    public double? TokensPerSecond => InferenceMs > 0 ? Tokens * 1000.0 / InferenceMs : null;
}
