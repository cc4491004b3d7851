using MediatR;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Queries;
using MeatLizard.Application.Feedback.Commands;
using MeatLizard.Application.Feedback.Queries;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record FeedbackRequest(string? Rating, string? Comment);

/// <summary>Thumbs up or down on answers, by the chat's owner, who may withdraw them; counted per model for admins.</summary>
public static class FeedbackEndpoints
{
    public static RouteGroupBuilder MapFeedbackEndpoints(this RouteGroupBuilder api)
    {
        var chats = api.MapGroup("/sessions/{id:guid}").WithTags("Feedback").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound);
        chats.MapPut("/messages/{messageId:guid}/feedback", async (Guid id, Guid messageId, FeedbackRequest body,
            IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new RateAnswer(id, messageId, body.Rating, body.Comment), ct)))
            .WithDescription("Rates an answer of your chat: rating up or down, comment optional (up to 1,000 " +
                             "characters); rating it again replaces the rating. Stored with the answer's model and host.");
        chats.MapDelete("/messages/{messageId:guid}/feedback", async (Guid id, Guid messageId, IMediator mediator,
            CancellationToken ct) =>
        {
            await mediator.Send(new WithdrawRating(id, messageId), ct);
            return TypedResults.NoContent();
        }).WithDescription("Withdraws your rating of an answer, with its comment; an answer not rated stays so.");
        chats.MapGet("/feedback", async (Guid id, IMediator mediator, CancellationToken ct) =>
            TypedResults.Ok(await mediator.Send(new ListChatFeedback(id), ct)));
        api.MapGet("/admin/feedback", async (AdminActors actors, IMediator mediator, CancellationToken ct) =>
                TypedResults.Ok(await mediator.Send(new GetFeedbackByModel(await actors.CurrentAsync(ct)), ct)))
            .WithTags("Admin").RequireAuthorization().ProducesSignedInProblems()
            .WithDescription("Admins only: the feedback on answers counted per model and host.");
        return api;
    }
}
