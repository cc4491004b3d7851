using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>Who is calling: set by the host from the authenticated request.</summary>
public interface ICurrentUser
{
    UserId? Id { get; }

    /// <summary>The client's address, for per-IP rate limits.</summary>
    string? ClientIp { get; }
}
