using System.Security.Claims;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>The caller of the current HTTP request.</summary>
public sealed class HttpCurrentUser(IHttpContextAccessor accessor, IOptions<RateLimitOptions> limits) : ICurrentUser
{
    // What the request's principal says, read from its claims once per principal: a request asks several times (its
    // limits, its handlers), and each reading searched the claims again. One reference, so a reader on another thread
    // sees a whole reading or none.
    private Reading? _reading;

    public UserId? Id => Read()?.Id;

    public bool ByApiKey => Read()?.ByApiKey ?? false;

    private Reading? Read()
    {
        if (accessor.HttpContext?.User is not { } principal)
        {
            return null;
        }

        // Authentication replaces the request's principal (it does not change it): a reading made before it ran is
        // made again after.
        if (_reading is { } reading && ReferenceEquals(reading.Principal, principal))
        {
            return reading;
        }

        reading = new Reading(principal,
            Guid.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), out var id) ? new UserId(id) : null,
            principal.FindFirst(SignInCredential.ApiKeyClaim) is not null);
        _reading = reading;
        return reading;
    }

    private sealed record Reading(ClaimsPrincipal Principal, UserId? Id, bool ByApiKey);

    /// <summary>The client as the per-IP limits count it: its IPv4 address, or its IPv6 network (<see cref="RateLimitOptions.Ipv6PrefixLength"/>).</summary>
    public string? ClientIp => accessor.HttpContext?.Connection.RemoteIpAddress is { } address
        ? ClientAddress.RateLimitKey(address, limits.Value.Ipv6PrefixLength)
        : null;
}
