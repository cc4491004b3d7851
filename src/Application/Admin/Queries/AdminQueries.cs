using System.Globalization;
using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Status.Queries;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>The platform's status for admins: workers, queue, fallback mode, default model and the last hour's figures.</summary>
public sealed record GetAdminStatus(AdminActor Actor) : AdminCommand<AdminStatusDto>(Actor)
{
    public override string AuditName => "status";
}

public sealed record AdminStatusDto(PlatformStatusDto Platform, string DefaultModel, MetricsSummary LastHour);

public sealed class GetAdminStatusHandler(
    IMediator mediator, IAdminReadModel reads, IRuntimeSettings settings, IOptions<InferenceOptions> inference, IClock clock)
    : IRequestHandler<GetAdminStatus, AdminStatusDto>
{
    public async Task<AdminStatusDto> Handle(GetAdminStatus request, CancellationToken cancellationToken)
    {
        var platform = await mediator.Send(new GetPlatformStatus(), cancellationToken);
        var now = clock.UtcNow;
        var lastHour = await reads.GetMetricsSummaryAsync(now - TimeSpan.FromHours(1), now, cancellationToken);
        var model = await settings.DefaultModelAsync(inference.Value.DefaultModel, cancellationToken);
        return new AdminStatusDto(platform, model, lastHour);
    }
}

/// <summary>The newest chats, everyone's or one user's (by username).</summary>
public sealed record ListSessionsAsAdmin(AdminActor Actor, string? Username) : AdminCommand<IReadOnlyList<AdminSessionDto>>(Actor)
{
    public const int Max = 20;

    public override string AuditName => "sessions";

    public override string? AuditArguments => Username is null ? null : $"user={Username}";
}

public sealed class ListSessionsAsAdminValidator : AbstractValidator<ListSessionsAsAdmin>
{
    public ListSessionsAsAdminValidator() =>
        RuleFor(c => c.Username).Must(Domain.Common.Username.IsValid!).When(c => c.Username is not null)
            .WithMessage("Give a MeatLizard username (3–32 letters, digits, '_', '.' or '-').");
}

public sealed class ListSessionsAsAdminHandler(IUserRepository users, IAdminReadModel reads)
    : IRequestHandler<ListSessionsAsAdmin, IReadOnlyList<AdminSessionDto>>
{
    public async Task<IReadOnlyList<AdminSessionDto>> Handle(ListSessionsAsAdmin request, CancellationToken cancellationToken)
    {
        Domain.Common.UserId? owner = null;
        if (request.Username is not null)
        {
            var user = await users.GetByUsernameAsync(request.Username, cancellationToken)
                       ?? throw NotFoundException.User(request.Username);
            owner = user.Id;
        }

        return await reads.ListSessionsAsync(owner, ListSessionsAsAdmin.Max, cancellationToken);
    }
}

/// <summary>
/// A period written as a number and a unit — <c>30m</c>, <c>6h</c>, <c>7d</c> — from one minute to 90 days.
/// </summary>
public static class MetricsPeriod
{
    public static readonly TimeSpan Default = TimeSpan.FromHours(1);

    public static readonly TimeSpan Longest = TimeSpan.FromDays(90);

    public const string Rule = "A period is a number and a unit, e.g. 30m, 6h or 7d (at most 90d).";

    public static bool TryParse(string? text, out TimeSpan period)
    {
        period = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length < 2
            || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count <= 0)
        {
            return false;
        }

        period = char.ToLowerInvariant(text[^1]) switch
        {
            'm' => TimeSpan.FromMinutes(count),
            'h' => TimeSpan.FromHours(count),
            'd' => TimeSpan.FromDays(count),
            _ => TimeSpan.Zero,
        };
        return period > TimeSpan.Zero && period <= Longest;
    }
}

/// <summary>The request figures of the last period (default one hour).</summary>
public sealed record GetAdminMetrics(AdminActor Actor, string? Period) : AdminCommand<MetricsSummary>(Actor)
{
    public override string AuditName => "metrics";

    public override string? AuditArguments => Period is null ? null : $"period={Period}";
}

public sealed class GetAdminMetricsValidator : AbstractValidator<GetAdminMetrics>
{
    public GetAdminMetricsValidator() =>
        RuleFor(c => c.Period).Must(p => MetricsPeriod.TryParse(p, out _)).When(c => c.Period is not null)
            .WithMessage(MetricsPeriod.Rule);
}

public sealed class GetAdminMetricsHandler(IMediator mediator) : IRequestHandler<GetAdminMetrics, MetricsSummary>
{
    public Task<MetricsSummary> Handle(GetAdminMetrics request, CancellationToken cancellationToken) =>
        mediator.Send(new GetMetricsSummary(
            MetricsPeriod.TryParse(request.Period, out var period) ? period : MetricsPeriod.Default), cancellationToken);
}

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
