
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// The limits in force now, read on every check so changes apply at once. Configuration feeds it today; the admin
/// settings table can feed it later without touching the limiters.
/// </summary>
public interface IRateLimitSettings
{
    ValueTask<RateLimit> GetAsync(RateLimitScope scope, CancellationToken cancellationToken);
}
