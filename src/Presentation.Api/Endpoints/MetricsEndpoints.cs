using System.Security.Cryptography;
using System.Text;
using MeatLizard.Infrastructure.Metrics;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>
/// <c>GET /metrics</c> on the API's own port, in the Prometheus text format, for a caller with
/// <c>Authorization: Bearer</c> and <c>Metrics:BearerToken</c>. Without that setting it is not served here (404);
/// <c>Metrics:Port</c> serves it on 127.0.0.1 without a token instead.
/// </summary>
public static class MetricsEndpoints
{
    public static IEndpointRouteBuilder MapMetricsEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", (HttpContext context, MetricsOptions options, MetricsExposition exposition) =>
        {
            if (options.BearerToken is not { } token)
            {
                return Results.NotFound();
            }

            if (!Presents(context.Request.Headers.Authorization.ToString(), token))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"metrics\"";
                return Results.Unauthorized();
            }

            return Results.Text(exposition.Collect(), MetricsExposition.ContentType);
        }).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    /// <summary>Compared in constant time, so the answer's timing says nothing about the token.</summary>
    private static bool Presents(string authorization, string token)
    {
        const string scheme = "Bearer ";
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(authorization[scheme.Length..].Trim()), Encoding.UTF8.GetBytes(token));
    }
}
