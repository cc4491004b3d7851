using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>
/// The limits of section "RateLimits", with the per-minute rates the admins set (<c>/ratelimit</c>, table
/// <c>settings</c>) taking precedence. Read on every call, so a configuration reload or an admin change applies at once
/// (the settings cache is cleared by the write, or expires within seconds in other processes).
/// </summary>
public sealed class ConfiguredRateLimits(IOptionsMonitor<RateLimitOptions> options, IRuntimeSettings settings) : IRateLimitSettings
{
    public ValueTask<RateLimit> GetAsync(RateLimitScope scope, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return settings.RateLimitAsync(scope, options.CurrentValue.For(scope), cancellationToken);
    }
}
