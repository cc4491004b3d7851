using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Admin.Queries;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record RateLimitRequest(int? PerMinute);

public sealed record FallbackModeRequest(string? Mode);

public sealed record DefaultModelRequest(string? Model);

/// <summary>The fallback mode in force after a change: inform or markov.</summary>
public sealed record FallbackModeResponse(string Mode);

/// <summary>Whether the model host is drained by an admin now (it is sent nothing new from its next heartbeat).</summary>
public sealed record HostDrainResponse(bool Drained);

/// <summary>The model of chats that choose none, after a change.</summary>
public sealed record DefaultModelResponse(string Model);

/// <summary>
/// The console's sections beyond accounts and invites: ban and unban, the model hosts (and draining one), the settings the Discord admin
/// commands change (the same commands, so the same values), the audit log, the dashboard's series and the users' usage. Admins only,
/// each call audited by the Application's admin pipeline; changes take the admin's edit bucket.
/// </summary>
public static class AdminConsoleEndpoints
{
    public static RouteGroupBuilder MapAdminConsoleEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapPost("/users/{id:guid}/ban", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new BanUser(actor, id.ToString()), ct));
        admin.MapPost("/users/{id:guid}/unban", (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new UnbanUser(actor, id.ToString()), ct));

        admin.MapGet("/status", (AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new GetAdminStatus(actor), ct));

        // A host drained finishes what it writes and takes nothing new (every process, from its next heartbeat), until
        // undrained; kept across restarts.
        admin.MapPost("/hosts/{id:guid}/drain", async (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(new HostDrainResponse(await mediator.Send(new DrainHost(await actors.CurrentAsync(ct), id, true), ct))));
        admin.MapPost("/hosts/{id:guid}/undrain", async (Guid id, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(new HostDrainResponse(await mediator.Send(new DrainHost(await actors.CurrentAsync(ct), id, false), ct))));
        admin.MapGet("/settings", (AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new GetAdminSettings(actor), ct));
        admin.MapPut("/settings/rate-limits/{scope}", (string scope, RateLimitRequest body, AdminActors actors,
            IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new SetRateLimit(actor, scope, body.PerMinute ?? -1), ct));
        admin.MapPut("/settings/fallback", async (FallbackModeRequest body, AdminActors actors, IMediator mediator,
            CancellationToken ct) =>
        {
            var mode = await mediator.Send(new SetFallbackMode(await actors.CurrentAsync(ct), body.Mode ?? ""), ct);
            return TypedResults.Ok(new FallbackModeResponse(mode.ToString().ToLowerInvariant()));
        });
        admin.MapPut("/settings/default-model", async (DefaultModelRequest body, AdminActors actors, IMediator mediator,
            CancellationToken ct) =>
            TypedResults.Ok(new DefaultModelResponse(
                await mediator.Send(new SetDefaultModel(await actors.CurrentAsync(ct), body.Model ?? ""), ct))));

        admin.MapGet("/audit", (long? before, int? limit, string? actor, string? command, AdminActors actors,
            IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, a => new ListAuditLog(a, before, limit, actor, command), ct));

        admin.MapGet("/metrics", (string? period, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new GetAdminMetrics(actor, period), ct));
        admin.MapGet("/metrics/series", (string? period, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new GetMetricsSeries(actor, period), ct));
        // Each user's model work (chat answers, /v1/embeddings) over the last days, the heaviest first.
        admin.MapGet("/usage", (int? days, Guid? userId, AdminActors actors, IMediator mediator, CancellationToken ct) =>
            SendAsync(actors, mediator, actor => new GetUsage(actor, days, userId), ct));
        return admin;
    }

    private static async Task<Ok<T>> SendAsync<T>(AdminActors actors, IMediator mediator,
        Func<AdminActor, IRequest<T>> request, CancellationToken ct) =>
        TypedResults.Ok(await mediator.Send(request(await actors.CurrentAsync(ct)), ct));
}
