using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.HostTokens;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Auth.Queries;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record RegistrationPolicyRequest(string? Policy);

public sealed record CreateInviteRequest(int? ExpiresInHours);

/// <summary>A new invite: its code and link, shown this once.</summary>
public sealed record CreatedInviteResponse(Guid Id, string Code, string Link, DateTimeOffset ExpiresAt);

public sealed record CreatePasswordResetRequest(int? ExpiresInHours);

/// <summary>A model host's name, for its direct relay token.</summary>
public sealed record CreateHostTokenRequest(string? Name);

/// <summary>A new password reset link for <paramref name="Username"/>: its code and link, shown this once.</summary>
public sealed record CreatedPasswordResetResponse(string Username, string Code, string Link, DateTimeOffset ExpiresAt);

/// <summary>
/// The admins' web console (<c>/api/v1/admin</c>): the same admin commands as Discord's, acting as the signed-in user
/// (judged an admin by the stored account), each refused to others with 403 and written to the audit log.
/// </summary>
public static class AdminEndpoints
{
    public static RouteGroupBuilder MapAdminEndpoints(this RouteGroupBuilder api)
    {
        var admin = api.MapGroup("/admin").WithTags("Admin").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);

        admin.MapGet("/users", async (bool? awaitingApproval, string? search, AdminActors actors, IMediator mediator,
            CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListUsers(await actors.CurrentAsync(ct), awaitingApproval, search), ct)));
        admin.MapPost("/users/{id:guid}/approve", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            ChangeAsync(actors, mediator, actor => new ApproveUser(actor, id.ToString()), ct));
        admin.MapPost("/users/{id:guid}/reject", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            ChangeAsync(actors, mediator, actor => new RejectUser(actor, id.ToString()), ct));
        admin.MapPost("/users/{id:guid}/promote", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            ChangeAsync(actors, mediator, actor => new PromoteUser(actor, id.ToString()), ct));
        admin.MapPost("/users/{id:guid}/demote", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            ChangeAsync(actors, mediator, actor => new DemoteUser(actor, id.ToString()), ct));
        // The user and all of their data, for good (never the last admin, nor the admin who asks).
        admin.MapDelete("/users/{id:guid}", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            ChangeAsync(actors, mediator, actor => new DeleteUser(actor, id.ToString()), ct));

        // A one-time link that sets a new password for the account (its owner forgot it); it replaces an earlier one.
        admin.MapPost("/users/{id:guid}/password-reset", CreatePasswordResetAsync);

        admin.MapPut("/registration", async (RegistrationPolicyRequest body, AdminActors actors, IMediator mediator,
            CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new SetRegistrationPolicy(await actors.CurrentAsync(ct), body.Policy), ct)));

        admin.MapPost("/invites", CreateInviteAsync);
        admin.MapGet("/invites", async (AdminActors actors, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListInvites(await actors.CurrentAsync(ct)), ct)));
        admin.MapDelete("/invites/{id:guid}", async (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new RevokeInvite(await actors.CurrentAsync(ct), id), ct);
            return TypedResults.NoContent();
        });

        // The direct relay's host tokens: a token is shown once at creation; revoking one ends its host's connections.
        admin.MapPost("/hosts/tokens", async (CreateHostTokenRequest body, AdminActors actors, IMediator mediator,
            CancellationToken ct) =>
        {
            var token = await mediator.Send(new CreateHostToken(await actors.CurrentAsync(ct), body.Name), ct);
            return TypedResults.Created($"/api/v1/admin/hosts/tokens/{Uri.EscapeDataString(token.Name)}", token);
        });
        admin.MapGet("/hosts/tokens", async (AdminActors actors, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListHostTokens(await actors.CurrentAsync(ct)), ct)));
        admin.MapDelete("/hosts/tokens/{name}", async (string name, AdminActors actors, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new RevokeHostToken(await actors.CurrentAsync(ct), name), ct);
            return TypedResults.NoContent();
        });
        admin.MapAdminConsoleEndpoints();
        return api;
    }

    private static async Task<Ok<AdminUserChangedDto>> ChangeAsync(AdminActors actors, IMediator mediator,
        Func<AdminActor, IRequest<AdminUserChangedDto>> command, CancellationToken ct) =>
        TypedResults.Ok(await mediator.Send(command(await actors.CurrentAsync(ct)), ct));

    private static async Task<Created<CreatedPasswordResetResponse>> CreatePasswordResetAsync(Guid id,
        CreatePasswordResetRequest? body, AdminActors actors, IMediator mediator, HttpRequest http, CancellationToken ct)
    {
        var reset = await mediator.Send(new CreatePasswordReset(await actors.CurrentAsync(ct), id.ToString(), body?.ExpiresInHours), ct);
        var link = $"{http.Scheme}://{http.Host}{http.PathBase}/?reset={Uri.EscapeDataString(reset.Code)}";
        return TypedResults.Created($"/api/v1/admin/users/{id:D}",
            new CreatedPasswordResetResponse(reset.Username, reset.Code, link, reset.ExpiresAt));
    }

    private static async Task<Created<CreatedInviteResponse>> CreateInviteAsync(CreateInviteRequest? body,
        AdminActors actors, IMediator mediator, HttpRequest http, CancellationToken ct)
    {
        var invite = await mediator.Send(new CreateInvite(await actors.CurrentAsync(ct), body?.ExpiresInHours), ct);
        var link = $"{http.Scheme}://{http.Host}{http.PathBase}/?invite={Uri.EscapeDataString(invite.Code)}";
        return TypedResults.Created($"/api/v1/admin/invites/{invite.Id}",
            new CreatedInviteResponse(invite.Id, invite.Code, link, invite.ExpiresAt));
    }
}
