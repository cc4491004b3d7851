using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// The figures of the period ending <paramref name="Until"/> (default now); what the periodic metrics post sends (not an
/// admin's act, so not audited).
/// </summary>
public sealed record GetMetricsSummary(TimeSpan Period, DateTimeOffset? Until = null) : IRequest<MetricsSummary>;

public sealed class GetMetricsSummaryHandler(IAdminReadModel reads, IClock clock) : IRequestHandler<GetMetricsSummary, MetricsSummary>
{
    public Task<MetricsSummary> Handle(GetMetricsSummary request, CancellationToken cancellationToken)
    {
        var until = request.Until ?? clock.UtcNow;
        return reads.GetMetricsSummaryAsync(until - request.Period, until, cancellationToken);
    }
}
