using MeatLizard.Application.Admin.Queries;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Application.Admin;

/// <summary>What the web console reads beside the Discord commands: the settings in force, the audit log, the dashboard.</summary>
internal static class AdminConsole
{
    public static IServiceCollection AddAdminConsole(this IServiceCollection services) =>
        services
            .AddRequestHandler<GetAdminSettingsHandler>()
            .AddRequestHandler<ListAuditLogHandler>()
            .AddRequestHandler<GetMetricsSeriesHandler>()
            .AddRequestHandler<GetUsageHandler>()
            .AddValidator<ListAuditLog, ListAuditLogValidator>()
            .AddValidator<GetMetricsSeries, GetMetricsSeriesValidator>()
            .AddValidator<ListUsers, ListUsersValidator>()
            .AddValidator<GetUsage, GetUsageValidator>();
}
