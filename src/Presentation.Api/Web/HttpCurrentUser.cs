using System.Security.Claims;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Web;

/// <summary>The caller of the current HTTP request.</summary>
public sealed class HttpCurrentUser(IHttpContextAccessor accessor, IOptions<RateLimitOptions> limits) : ICurrentUser
{
    public UserId? Id =>
        Guid.TryParse(accessor.HttpContext?.User.FindFirstValue(ClaimTypes.NameIdentifier), out var id)
            ? new UserId(id)
            : null;

    public bool ByApiKey => accessor.HttpContext?.User.FindFirst(SignInCredential.ApiKeyClaim) is not null;

    /// <summary>The client as the per-IP limits count it: its IPv4 address, or its IPv6 network (<see cref="RateLimitOptions.Ipv6PrefixLength"/>).</summary>
    public string? ClientIp => accessor.HttpContext?.Connection.RemoteIpAddress is { } address
        ? ClientAddress.RateLimitKey(address, limits.Value.Ipv6PrefixLength)
        : null;
}
