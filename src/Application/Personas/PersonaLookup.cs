using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Personas;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Personas;

/// <summary>Finds the persona a chat starts with, as its user may see it.</summary>
public static class PersonaLookup
{
    /// <summary>The persona, if <paramref name="user"/> may use it; else not found, naming <paramref name="field"/>.</summary>
    public static async Task<Persona> RequireVisibleAsync(IPersonaRepository personas, User user, Guid id, string field,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(personas);
        ArgumentNullException.ThrowIfNull(user);
        var persona = await personas.GetAsync(new PersonaId(id), cancellationToken);
        return persona is not null && persona.IsVisibleTo(user) ? persona : throw NotFoundException.Persona(field);
    }

    /// <summary>
    /// The persona named <paramref name="name"/> (without regard to case) among those <paramref name="user"/> sees, their
    /// own before a shared one of the same name; null when none is.
    /// </summary>
    public static async Task<Persona?> FindByNameAsync(IPersonaRepository personas, User user, string name,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(personas);
        ArgumentNullException.ThrowIfNull(user);
        var visible = await personas.ListVisibleAsync(user.Id, cancellationToken);
        var named = visible.Where(p => string.Equals(p.Name.Value, name.Trim(), StringComparison.OrdinalIgnoreCase)).ToList();
        return named.FirstOrDefault(p => !p.IsShared) ?? named.FirstOrDefault();
    }
}
