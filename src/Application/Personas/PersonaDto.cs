using MeatLizard.Domain.Personas;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Personas;

/// <summary>A persona as its reader sees it.</summary>
/// <param name="Shared">Made by an admin for everyone (only admins change it).</param>
/// <param name="CanChange">Whether the reader may change or delete it: their own, or (for an admin) a shared one.</param>
public sealed record PersonaDto(
    Guid Id, string Name, string SystemPrompt, string? Model, double? Temperature, bool Shared, bool CanChange,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static PersonaDto Of(Persona persona, User reader)
    {
        ArgumentNullException.ThrowIfNull(persona);
        ArgumentNullException.ThrowIfNull(reader);
        return new(persona.Id.Value, persona.Name.Value, persona.SystemPrompt.Value, persona.Model?.Value,
            persona.Temperature, persona.IsShared, persona.IsShared ? reader.IsAdmin : persona.OwnerId == reader.Id,
            persona.CreatedAt, persona.UpdatedAt);
    }
}
