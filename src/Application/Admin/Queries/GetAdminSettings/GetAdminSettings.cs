using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Admin.Queries;

/// <summary>
/// The settings the admin commands change (<c>/ratelimit</c>, <c>/fallback</c>, <c>/model</c> in Discord, the console's
/// Settings), as in force now: an admin's value where one is stored, else configuration.
/// </summary>
public sealed record GetAdminSettings(AdminActor Actor) : AdminCommand<AdminSettingsDto>(Actor)
{
    public override string AuditName => "settings";
}

/// <summary>Who last changed a stored setting, and when (the settings table's key, e.g. <c>fallback.mode</c>).</summary>
public sealed record SettingChangeDto(string Key, string Value, DateTimeOffset UpdatedAt, string? UpdatedBy);

/// <summary>The rate limits an admin may set, the fallback mode, the default model, and the stored changes.</summary>
public sealed record AdminSettingsDto(
    IReadOnlyList<RateLimitSetDto> RateLimits, string FallbackMode, string DefaultModel, IReadOnlyList<SettingChangeDto> Changes);

public sealed class GetAdminSettingsHandler(
    IRateLimitSettings limits, IFallbackResponder fallback, ChatModels models, ISettingsStore store)
    : IRequestHandler<GetAdminSettings, AdminSettingsDto>
{
    /// <summary>The scopes <c>/ratelimit</c> sets.</summary>
    public static readonly IReadOnlyList<RateLimitScope> SettableScopes = [RateLimitScope.User, RateLimitScope.Ip, RateLimitScope.Guild];

    public async Task<AdminSettingsDto> Handle(GetAdminSettings request, CancellationToken cancellationToken)
    {
        var rateLimits = new List<RateLimitSetDto>(SettableScopes.Count);
        foreach (var scope in SettableScopes)
        {
            var limit = await limits.GetAsync(scope, cancellationToken);
            rateLimits.Add(new RateLimitSetDto(scope.ToString().ToLowerInvariant(), limit.PerMinute, limit.Burst));
        }

        var mode = await fallback.GetModeAsync(cancellationToken);
        var model = await models.DefaultAsync(cancellationToken);
        var changes = (await store.ListAsync(cancellationToken))
            .Select(s => new SettingChangeDto(s.Key, s.Value, s.UpdatedAt, s.UpdatedBy))
            .ToArray();
        return new AdminSettingsDto(rateLimits, mode.ToString().ToLowerInvariant(), model, changes);
    }
}
