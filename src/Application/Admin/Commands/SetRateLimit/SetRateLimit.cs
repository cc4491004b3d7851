using System.Globalization;
using MediatR;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Application.Admin.Commands;

/// <summary>Sets the per-minute rate of a rate-limit scope (user, ip or guild); 0 means unlimited.</summary>
public sealed record SetRateLimit(AdminActor Actor, string Scope, int PerMinute) : AdminCommand<RateLimitSetDto>(Actor)
{
    /// <summary>Limited per admin like the other changes of stored records (a web admin; a Discord member has no bucket).</summary>
    public override IReadOnlyList<RateLimitScope> LimitedBy => AdminChange;

    public const int MaxPerMinute = 100_000;

    public override string AuditName => "ratelimit";

    public override string? AuditArguments => $"scope={Scope} perMinute={PerMinute.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The limit in force after the change (the burst stays as configured).</summary>
public sealed record RateLimitSetDto(string Scope, int PerMinute, int Burst);

public sealed class SetRateLimitHandler(AdminSettingsWriter writer, IRateLimitSettings limits)
    : IRequestHandler<SetRateLimit, RateLimitSetDto>
{
    public async Task<RateLimitSetDto> Handle(SetRateLimit request, CancellationToken cancellationToken)
    {
        SetRateLimitValidator.TryScope(request.Scope, out var scope);
        await writer.SetAsync(SettingKeys.RateLimit(scope), request.PerMinute.ToString(CultureInfo.InvariantCulture),
            request.Actor, cancellationToken);
        var now = await limits.GetAsync(scope, cancellationToken);
        return new RateLimitSetDto(scope.ToString().ToLowerInvariant(), now.PerMinute, now.Burst);
    }
}
