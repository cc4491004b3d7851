using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Personas.Commands;

/// <summary>
/// Deletes a persona: the caller's own, or a shared one by an admin (<see cref="Admin"/> set: audited). Chats started
/// with it keep what they copied; members who chose it with <c>/persona</c> have none chosen any more.
/// </summary>
public sealed record DeletePersona(Guid Id) : IRequest<MediatR.Unit>, IRateLimitedRequest, IOwnerOrAdminAction
{
    public AdminActor? Admin { get; init; }

    public string AuditName => "persona delete";

    public string? AuditArguments => $"id={Id:D}";

    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class DeletePersonaHandler(UserAccess access, IPersonaRepository personas)
    : IRequestHandler<DeletePersona, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(DeletePersona request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var persona = await personas.GetAsync(new PersonaId(request.Id), cancellationToken)
                      ?? throw NotFoundException.Persona();
        persona.EnsureChangeableBy(user);
        if (!await personas.DeleteAsync(persona.Id, cancellationToken))
        {
            throw NotFoundException.Persona();
        }

        return MediatR.Unit.Value;
    }
}
