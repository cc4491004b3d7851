using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Abstractions;

/// <summary>Invites and setup passes (table <c>invites</c>); only each code's SHA-256 is stored.</summary>
public interface IInviteRepository
{
    /// <summary>Stores a new invite; expired ones that were never used go at the same time.</summary>
    Task AddAsync(Invite invite, CancellationToken cancellationToken);

    Task<Invite?> GetAsync(InviteId id, CancellationToken cancellationToken);

    Task<Invite?> GetByCodeHashAsync(string codeHash, CancellationToken cancellationToken);

    /// <summary>
    /// Stores that <paramref name="invite"/> was used (<see cref="Invite.Use"/>) only if nobody used or revoked it
    /// meanwhile: of two registrations with one code at once, one gets true.
    /// </summary>
    Task<bool> TryMarkUsedAsync(Invite invite, CancellationToken cancellationToken);

    /// <summary>Stores a revocation.</summary>
    Task UpdateAsync(Invite invite, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> admins' invites (setup passes left out), newest first.</summary>
    Task<IReadOnlyList<Invite>> ListAsync(int max, CancellationToken cancellationToken);
}
