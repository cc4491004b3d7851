using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The request figures of the last period (default one hour).</summary>
public sealed record GetAdminMetrics(AdminActor Actor, string? Period) : AdminCommand<MetricsSummary>(Actor)
{
    public override string AuditName => "metrics";

    public override string? AuditArguments => Period is null ? null : $"period={Period}";
}

public sealed class GetAdminMetricsHandler(IAdminReadModel reads, IClock clock) : IRequestHandler<GetAdminMetrics, MetricsSummary>
{
    public Task<MetricsSummary> Handle(GetAdminMetrics request, CancellationToken cancellationToken)
    {
        var period = MetricsPeriod.TryParse(request.Period, out var asked) ? asked : MetricsPeriod.Default;
        var until = clock.UtcNow;
        return reads.GetMetricsSummaryAsync(until - period, until, cancellationToken);
    }
}
