using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The request figures of the last period (default one hour).</summary>
public sealed record GetAdminMetrics(AdminActor Actor, string? Period) : AdminCommand<MetricsSummary>(Actor)
{
    public override string AuditName => "metrics";

    public override string? AuditArguments => Period is null ? null : $"period={Period}";
}

public sealed class GetAdminMetricsHandler(IMediator mediator) : IRequestHandler<GetAdminMetrics, MetricsSummary>
{
    public Task<MetricsSummary> Handle(GetAdminMetrics request, CancellationToken cancellationToken) =>
        mediator.Send(new GetMetricsSummary(
            MetricsPeriod.TryParse(request.Period, out var period) ? period : MetricsPeriod.Default), cancellationToken);
}
