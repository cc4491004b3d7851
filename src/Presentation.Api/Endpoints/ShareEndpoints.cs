using MediatR;
using MeatLizard.Application.Sharing.Commands;
using MeatLizard.Application.Sharing.Queries;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record ShareLinkRequest(Guid? UpToMessageId);

/// <summary>Share links: made, listed and revoked by a chat's owner; read by anyone who holds one.</summary>
public static class ShareEndpoints
{
    public static RouteGroupBuilder MapShareEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/sessions/{id:guid}/share", async (Guid id, ShareLinkRequest? body, IMediator mediator, CancellationToken ct) =>
            {
                var link = await mediator.Send(new CreateShareLink(id, body?.UpToMessageId), ct);
                return TypedResults.Created($"/api/v1/shared/{link.Token}", link);
            })
            .WithTags("Sharing").RequireAuthorization().ProducesSignedInProblems(StatusCodes.Status404NotFound)
            .WithDescription("A read-only link to the chat as it is now, up to upToMessageId (the newest message when " +
                             "absent). The token is shown this once; the page is at path.");
        var links = api.MapGroup("/share-links").WithTags("Sharing").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound);
        links.MapGet("/", async (Guid? chatId, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListShareLinks(chatId), ct)));
        links.MapDelete("/{id:guid}", async (Guid id, IMediator mediator, CancellationToken ct) =>
        {
            await mediator.Send(new RevokeShareLink(id), ct);
            return TypedResults.NoContent();
        });
        api.MapGet("/shared/{token}", async (string token, IMediator mediator, CancellationToken ct) =>
                TypedResults.Ok(await mediator.Send(new GetSharedChat(token), ct)))
            .WithTags("Sharing").AllowAnonymous().ProducesProblems(StatusCodes.Status404NotFound)
            .WithDescription("What a share link shows, signed in or not: the chat's title and its messages as they " +
                             "were when the link was made. 404 once revoked.");
        api.MapGet("/shared/{token}/images/{name}", async (string token, string name, HttpResponse response,
                IMediator mediator, CancellationToken ct) =>
            {
                var image = await mediator.Send(new GetSharedImage(token, name), ct);
                // Not kept by caches: a revoked link must stop showing it (nosniff comes with every answer).
                response.Headers.CacheControl = "private, no-store";
                return TypedResults.File(image.Data, image.MediaType);
            })
            .WithTags("Sharing").AllowAnonymous().ProducesProblems(StatusCodes.Status404NotFound)
            .Produces(StatusCodes.Status200OK, contentType: "image/png", additionalContentTypes: ["image/jpeg", "image/webp", "image/gif"])
            .WithDescription("An image of a message of a share link's copy (its images[].name), signed in or not. Any " +
                             "other image, and any once the link is revoked, is the same 404.");
        return api;
    }
}
