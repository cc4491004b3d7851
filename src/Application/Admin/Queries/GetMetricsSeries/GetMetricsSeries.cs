using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The dashboard's series of the last period (<c>1h</c>, <c>1d</c>, <c>7d</c>, or any up to 7 days; default 1h).</summary>
public sealed record GetMetricsSeries(AdminActor Actor, string? Period) : AdminCommand<MetricsSeriesDto>(Actor)
{
    public static readonly TimeSpan Longest = TimeSpan.FromDays(7);

    /// <summary>The most requests a series is made of; beyond, the newest are left out and the series says so.</summary>
    public const int MaxSamples = 200_000;

    public override string AuditName => "dashboard";

    public override string? AuditArguments => Period is null ? null : $"period={Period}";
}

/// <summary>Tokens per second of one model host, a value per bucket (null where it answered nothing).</summary>
public sealed record HostSeriesDto(Guid WorkerId, IReadOnlyList<double?> TokensPerSecond);

/// <summary>
/// Per bucket of <paramref name="BucketSeconds"/> starting at <paramref name="Times"/> (unix seconds): answers per minute
/// by source (the model, the fallback, a notice), the latency's p50 and p99 (queued to answered), the time to first token's
/// p50 and p99 (queued to the first piece of the model's answer with text, as measured; for requests recorded before it
/// was measured, as the stored queue, relay and prompt times tell it), the mean number of requests waiting in the queue, and each host's generation speed. <paramref name="Truncated"/>:
/// more than <see cref="GetMetricsSeries.MaxSamples"/> requests, the newest left out.
/// </summary>
public sealed record MetricsSeriesDto(
    DateTimeOffset From,
    DateTimeOffset To,
    int BucketSeconds,
    int Requests,
    bool Truncated,
    IReadOnlyList<long> Times,
    IReadOnlyList<double> ModelPerMinute,
    IReadOnlyList<double> FallbackPerMinute,
    IReadOnlyList<double> NoticePerMinute,
    IReadOnlyList<int?> LatencyP50Ms,
    IReadOnlyList<int?> LatencyP99Ms,
    IReadOnlyList<int?> FirstTokenP50Ms,
    IReadOnlyList<int?> FirstTokenP99Ms,
    IReadOnlyList<double> QueueLength,
    IReadOnlyList<HostSeriesDto> Hosts);

public sealed class GetMetricsSeriesHandler(IAdminConsoleReads reads, IClock clock)
    : IRequestHandler<GetMetricsSeries, MetricsSeriesDto>
{
    public async Task<MetricsSeriesDto> Handle(GetMetricsSeries request, CancellationToken cancellationToken)
    {
        var period = MetricsPeriod.TryParse(request.Period, out var asked) ? asked : MetricsPeriod.Default;
        var bucket = MetricsBuckets.SizeFor(period);
        // Buckets on whole bucket boundaries, the last one holding now.
        var until = MetricsBuckets.Floor(clock.UtcNow, bucket) + bucket;
        var from = until - period;
        var samples = await reads.ListMetricSamplesAsync(from, until, GetMetricsSeries.MaxSamples + 1, cancellationToken);
        var truncated = samples.Count > GetMetricsSeries.MaxSamples;
        return MetricsBuckets.Build(from, until, bucket, truncated ? samples.Take(GetMetricsSeries.MaxSamples).ToArray() : samples,
            truncated);
    }
}

public sealed class GetMetricsSeriesValidator : AbstractValidator<GetMetricsSeries>
{
    public GetMetricsSeriesValidator() =>
        RuleFor(c => c.Period).Must(p => MetricsPeriod.TryParse(p, out var period) && period <= GetMetricsSeries.Longest)
            .When(c => c.Period is not null).OverridePropertyName("period")
            .WithMessage("A period is a number and a unit, e.g. 1h, 1d or 7d (at most 7d).");
}
