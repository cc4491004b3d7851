using MeatLizard.Domain.Common;
using MeatLizard.Domain.Personas;

namespace MeatLizard.Application.Abstractions;

/// <summary>Personas (prompt presets), personal and shared (table <c>personas</c>).</summary>
public interface IPersonaRepository
{
    Task AddAsync(Persona persona, CancellationToken cancellationToken);

    Task<Persona?> GetAsync(PersonaId id, CancellationToken cancellationToken);

    Task UpdateAsync(Persona persona, CancellationToken cancellationToken);

    /// <summary>False when there was no such persona.</summary>
    Task<bool> DeleteAsync(PersonaId id, CancellationToken cancellationToken);

    /// <summary>The shared personas and <paramref name="userId"/>'s own: shared ones first, each part by name.</summary>
    Task<IReadOnlyList<Persona>> ListVisibleAsync(UserId userId, CancellationToken cancellationToken);

    /// <summary>
    /// Whether <paramref name="ownerId"/> (null: the shared ones) has a persona named <paramref name="name"/> (without
    /// regard to case) other than <paramref name="except"/>.
    /// </summary>
    Task<bool> NameTakenAsync(UserId? ownerId, string name, PersonaId? except, CancellationToken cancellationToken);
}
