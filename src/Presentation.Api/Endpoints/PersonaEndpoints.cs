using MediatR;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Personas.Commands;
using MeatLizard.Application.Personas.Queries;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <param name="Shared">For everyone (admins only; audited). Only at creation: a persona stays personal or shared.</param>
public sealed record PersonaRequest(string? Name, string? SystemPrompt, string? Model, double? Temperature, bool? Shared = null);

/// <summary>
/// Personas (prompt presets): the caller's own and the shared ones an admin made, chosen when a chat starts
/// (<c>personaId</c> on <c>POST /sessions</c>). An admin's actions on them are audited.
/// </summary>
public static class PersonaEndpoints
{
    public static RouteGroupBuilder MapPersonaEndpoints(this RouteGroupBuilder api)
    {
        var personas = api.MapGroup("/personas").WithTags("Personas").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        personas.MapGet("/", async (IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListPersonas(), ct)));
        personas.MapPost("/", async (PersonaRequest body, AdminActors actors, IMediator mediator, CancellationToken ct) =>
        {
            var shared = body.Shared ?? false;
            var persona = await mediator.Send(
                new CreatePersona(body.Name, body.SystemPrompt, body.Model, body.Temperature, shared)
                {
                    // Sharing is an admin's action: refused to others and audited.
                    Admin = shared ? await actors.CurrentAsync(ct) : await AdminOrNullAsync(actors, ct),
                }, ct);
            return TypedResults.Created($"/api/v1/personas/{persona.Id}", persona);
        });
        personas.MapPut("/{id:guid}", async (Guid id, PersonaRequest body, AdminActors actors, IMediator mediator,
            CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(
                new UpdatePersona(id, body.Name, body.SystemPrompt, body.Model, body.Temperature)
                {
                    Admin = await AdminOrNullAsync(actors, ct),
                }, ct)));
        personas.MapDelete("/{id:guid}", async (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new DeletePersona(id) { Admin = await AdminOrNullAsync(actors, ct) }, ct);
            return TypedResults.NoContent();
        });
        return api;
    }

    /// <summary>An admin's every action on personas is audited; others' are their own business.</summary>
    private static async Task<AdminActor?> AdminOrNullAsync(AdminActors actors, CancellationToken ct) =>
        await actors.CurrentAsync(ct) is { IsAdmin: true } admin ? admin : null;
}
