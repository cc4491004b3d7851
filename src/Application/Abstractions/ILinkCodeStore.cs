using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// One-time codes a web user makes to link a chat network identity to their account (table <c>link_codes</c>). Only
/// the code's SHA-256 is stored, so a copy of the database links nobody.
/// </summary>
public interface ILinkCodeStore
{
    Task AddAsync(string codeHash, UserId userId, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the code and returns its user when it exists and has not expired; null otherwise. Atomic: of two
    /// members typing the same code at once, one gets it.
    /// </summary>
    Task<UserId?> TakeAsync(string codeHash, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The user of a code that exists and has not expired, leaving it in place; null otherwise.</summary>
    Task<UserId?> PeekAsync(string codeHash, DateTimeOffset now, CancellationToken cancellationToken);
}
