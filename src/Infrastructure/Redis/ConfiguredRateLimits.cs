using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Redis;

/// <summary>The limits of section "RateLimits", re-read on every call so a configuration reload applies at once.</summary>
public sealed class ConfiguredRateLimits(IOptionsMonitor<RateLimitOptions> options) : IRateLimitSettings
{
    public ValueTask<RateLimit> GetAsync(RateLimitScope scope, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(options.CurrentValue.For(scope));
    }
}
