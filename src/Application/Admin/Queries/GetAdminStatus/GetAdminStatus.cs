using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Status.Queries;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// The platform's status for admins: workers, queue, fallback mode, default model and the last hour's figures.
/// <paramref name="Command"/> is the command that asked (/status, /workers), as audited.
/// </summary>
public sealed record GetAdminStatus(AdminActor Actor, string Command = "status") : AdminCommand<AdminStatusDto>(Actor)
{
    public override string AuditName => Command;
}

public sealed record AdminStatusDto(PlatformStatusDto Platform, string DefaultModel, MetricsSummary LastHour);

public sealed class GetAdminStatusHandler(
    PlatformStatusReader status, IAdminReadModel reads, ChatModels models, IClock clock)
    : IRequestHandler<GetAdminStatus, AdminStatusDto>
{
    public async Task<AdminStatusDto> Handle(GetAdminStatus request, CancellationToken cancellationToken)
    {
        var platform = await status.ReadAsync(cancellationToken);
        var now = clock.UtcNow;
        var lastHour = await reads.GetMetricsSummaryAsync(now - TimeSpan.FromHours(1), now, cancellationToken);
        var model = await models.DefaultAsync(cancellationToken);
        return new AdminStatusDto(platform, model, lastHour);
    }
}
