using MeatLizard.Presentation.Api.Web;

namespace MeatLizard.Presentation.Api.Endpoints;

public static class StatusEndpoints
{
    public static RouteGroupBuilder MapStatusEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/status", async (PlatformStatusCache status, CancellationToken ct) =>
            TypedResults.Ok(await status.GetAsync(ct))).WithTags("Status").AllowAnonymous().ProducesProblems();
        // The models online: for each, its hosts, their free slots and the messages waiting for it.
        api.MapGet("/models", async (PlatformStatusCache status, CancellationToken ct) =>
            TypedResults.Ok((await status.GetAsync(ct)).Models ?? [])).WithTags("Status").AllowAnonymous().ProducesProblems();
        return api;
    }

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
