using MediatR;
using MeatLizard.Application.Search.Queries;

namespace MeatLizard.Presentation.Api.Endpoints;

public static class SearchEndpoints
{
    public static RouteGroupBuilder MapSearchEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/search", async (string? q, int? limit, string? cursor, IMediator mediator, CancellationToken ct) =>
                TypedResults.Ok(await mediator.Send(new SearchChats(q, limit ?? SearchChats.DefaultLimit, cursor), ct)))
            .WithTags("Search").RequireAuthorization().ProducesSignedInProblems()
            .WithDescription("Full-text search over the caller's own chats (titles) and messages, best match first. " +
                             "Each word of q must appear (whole, any case); quotes, *, -, : and the like only separate " +
                             "words. Pass nextCursor as cursor for the next page.");
        return api;
    }
}
