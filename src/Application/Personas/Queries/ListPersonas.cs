using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Personas.Queries;

/// <summary>The personas the caller may start a chat with: the shared ones, then their own, each part by name.</summary>
public sealed record ListPersonas : IRequest<IReadOnlyList<PersonaDto>>;

public sealed class ListPersonasHandler(UserAccess access, IPersonaRepository personas)
    : IRequestHandler<ListPersonas, IReadOnlyList<PersonaDto>>
{
    public async Task<IReadOnlyList<PersonaDto>> Handle(ListPersonas request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var visible = await personas.ListVisibleAsync(user.Id, cancellationToken);
        return [.. visible.Select(p => PersonaDto.Of(p, user))];
    }
}
