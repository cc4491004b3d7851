using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Relay.Direct;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>
/// The direct relay's endpoint (Relay:Transport=Direct): model hosts dial it over WebSocket with their host token and
/// exchange the same sealed envelopes as over Discord; a plain GET with a token is a probe that says whether the token
/// is accepted and, to a host it accepts only, which relay keys this API holds (by fingerprint). Not part of the public
/// API (no OpenAPI entry).
/// </summary>
public static class DirectRelayEndpoint
{
    /// <summary>Maps the endpoint when this process runs the direct relay's server end.</summary>
    public static WebApplication MapDirectRelayEndpoint(this WebApplication app)
    {
        if (app.Services.GetService<DirectRelayDoor>() is not null)
        {
            app.MapGet("/" + DirectRelayOptions.EndpointPath, ConnectAsync).ExcludeFromDescription();
        }

        return app;
    }

    private static async Task<Results<EmptyHttpResult, Ok<DirectRelayProbeAnswer>, UnauthorizedHttpResult, ProblemHttpResult>> ConnectAsync(
        HttpContext http, DirectRelayDoor door, DirectServerRelayTransport transport, IOptions<RelayOptions> relay,
        RelayKeyRing keys, IHostApplicationLifetime lifetime)
    {
        var host = await door.AdmitAsync(http.Request.Headers.Authorization, http.WebSockets.IsWebSocketRequest, http.RequestAborted);
        if (host is null)
        {
            return TypedResults.Unauthorized();
        }

        if (!http.WebSockets.IsWebSocketRequest)
        {
            // A probe (the client bot's doctor): the token is good; no link is opened, so a live host's is untouched.
            // The keys' fingerprints let its doctor say whether its Relay:Keys are these; a refused caller learns none.
            return TypedResults.Ok(new DirectRelayProbeAnswer(host, keys.Fingerprints));
        }

        if (!Guid.TryParse(http.Request.Headers[DirectRelayOptions.LinkHeader], out var link))
        {
            return TypedResults.Problem($"The {DirectRelayOptions.LinkHeader} header must name the host's link (a GUID).",
                statusCode: StatusCodes.Status400BadRequest);
        }

        var (interval, timeout) = DirectRelayOptions.KeepAliveOf(relay.Value);
        using var socket = await http.WebSockets.AcceptWebSocketAsync(
            new WebSocketAcceptContext { KeepAliveInterval = interval, KeepAliveTimeout = timeout });
        // Ended by this process only when it stops: a connection that breaks (RequestAborted) fails its reads and
        // writes by itself, and must be told from one ended on purpose — a broken one leaves its host cut off.
        await transport.ServeAsync(host, link, socket, lifetime.ApplicationStopping);
        return TypedResults.Empty;
    }
}
