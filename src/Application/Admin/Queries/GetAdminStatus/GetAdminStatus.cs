using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin.HostTokens;
using MeatLizard.Application.Common;
using MeatLizard.Application.Status.Queries;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// The platform's status for admins: workers, queue, fallback mode, default model and the last hour's figures, and
/// with the direct relay its host tokens.
/// <paramref name="Command"/> is the command that asked (/status, /workers), as audited.
/// </summary>
public sealed record GetAdminStatus(AdminActor Actor, string Command = "status") : AdminCommand<AdminStatusDto>(Actor)
{
    public override string AuditName => Command;
}

/// <param name="HostTokens">
/// With the direct relay (Relay:Transport=Direct), every host token as the tokens list shows it (connected here now,
/// last connected, revoked); null with any other transport, which has none.
/// </param>
public sealed record AdminStatusDto(
    PlatformStatusDto Platform, string DefaultModel, MetricsSummary LastHour,
    IReadOnlyList<HostTokenDto>? HostTokens = null);

public sealed class GetAdminStatusHandler(
    PlatformStatusReader status, IAdminReadModel reads, ChatModels models, HostTokenRoster hostTokens, IClock clock)
    : IRequestHandler<GetAdminStatus, AdminStatusDto>
{
    /// <summary>The platform's transport when the direct relay runs (Relay:Transport=Direct).</summary>
    private const string DirectTransport = "Direct";

    public async Task<AdminStatusDto> Handle(GetAdminStatus request, CancellationToken cancellationToken)
    {
        var platform = await status.ReadAsync(cancellationToken);
        var now = clock.UtcNow;
        var lastHour = await reads.GetMetricsSummaryAsync(now - TimeSpan.FromHours(1), now, cancellationToken);
        var model = await models.DefaultAsync(cancellationToken);
        var tokens = platform.Transport == DirectTransport ? await hostTokens.ListAsync(cancellationToken) : null;
        return new AdminStatusDto(platform, model, lastHour, tokens);
    }
}
