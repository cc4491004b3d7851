using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>Who is calling: set by the host from the authenticated request.</summary>
public interface ICurrentUser
{
    UserId? Id { get; }

    /// <summary>The client's address, for per-IP rate limits.</summary>
    string? ClientIp { get; }

    /// <summary>Whether the caller authenticated with an API key (rather than a password sign-in).</summary>
    bool ByApiKey => false;

    /// <summary>
    /// The Discord guild or chat group a channel member writes from, for the per-guild limit
    /// (<see cref="RateLimitScope.Guild"/>); null for the web app, the API and private chats.
    /// </summary>
    string? GroupId => null;
}
