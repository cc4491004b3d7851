using System.Security.Claims;
using MeatLizard.Application.Status.Queries;
using MeatLizard.Presentation.Api.Web;

namespace MeatLizard.Presentation.Api.Endpoints;

public static class StatusEndpoints
{
    public static RouteGroupBuilder MapStatusEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/status", async (PlatformStatusCache status, HttpContext context, CancellationToken ct) =>
            TypedResults.Ok(ForCaller(await status.GetAsync(ct), context.User))).WithTags("Status").AllowAnonymous()
            .ProducesProblems();
        // The models online: for each, its hosts, their free slots and the messages waiting for it.
        api.MapGet("/models", async (PlatformStatusCache status, CancellationToken ct) =>
            TypedResults.Ok((await status.GetAsync(ct)).Models ?? [])).WithTags("Status").AllowAnonymous().ProducesProblems();
        return api;
    }

    /// <summary>
    /// The status as the caller may see it: an admin sees everything; anyone else the counts and states, not the model
    /// hosts' or the server bots' machine names nor the engines' raw errors (llama.cpp's lines hold paths and user names).
    /// </summary>
    public static PlatformStatusDto ForCaller(PlatformStatusDto status, ClaimsPrincipal caller) =>
        caller.IsInRole("admin")
            ? status
            : status with
            {
                Workers = [.. status.Workers.Select(w => w with { Name = null, LastError = StateOf(w) })],
                ServerBots = status.ServerBots is { } bots ? [.. bots.Select((_, i) => $"server bot {i + 1}")] : null,
            };

    /// <summary>What a host's error amounts to, in words that say nothing of the machine.</summary>
    private static string? StateOf(WorkerStatusDto worker) => worker switch
    {
        { LastError: null } => null,
        { Draining: true } => "draining",
        { Loading: true } => "loading its model",
        { Ready: true } => "answering (its last request failed)",
        _ => "not ready",
    };

    /// <summary>Liveness (the process answers) and readiness (its dependencies answer).</summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Ok(new { status = "alive" })).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/ready", async (PlatformStatusCache cache, CancellationToken ct) =>
        {
            try
            {
                var status = await cache.GetAsync(ct);
                return Results.Ok(new { status = "ready", storage = status.Storage, workersOnline = status.WorkersOnline });
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready",
                    detail: "A dependency (the database) does not answer.");
            }
        }).AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
