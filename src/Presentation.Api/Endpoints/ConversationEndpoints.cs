using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Mvc;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>
/// A question's new words. <c>Images</c>: absent keeps the question's images; else data: URLs replacing them (as send
/// takes them), an empty list dropping them.
/// </summary>
public sealed record EditMessageRequest(string? Content, IReadOnlyList<string?>? Images = null);

/// <summary>
/// Asking again: regenerate the last answer (the earlier one kept as a version beside it), or edit a question of the
/// current path (the last, or any by its id) into a new version that starts a branch.
/// </summary>
public static class ConversationEndpoints
{
    private const string EditDescription =
        "Asks the question again in new words, as a new version beside it: 202 with the ids, or with wait=true 200 with " +
        "the answer. The new version keeps the question's images unless images is given: data: URLs replacing them, " +
        "read, capped and refused (a 400 naming images[0]) as send's are; an empty list drops them.";

    public static RouteGroupBuilder MapConversationEndpoints(this RouteGroupBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions").RequireAuthorization()
            .ProducesSignedInProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        sessions.MapPost("/{id:guid}/regenerate",
            (Guid id, bool? wait, IMediator mediator, IChatEvents events, UserConcurrency concurrency, CancellationToken ct) =>
                Asking.RespondAsync(id, wait, c => mediator.Send(new RegenerateAnswer(id), c), mediator, events, concurrency, ct));
        sessions.MapPost("/{id:guid}/edit-last",
            (Guid id, EditMessageRequest body, bool? wait, IMediator mediator, IChatEvents events,
                UserConcurrency concurrency, CancellationToken ct) =>
                Asking.RespondAsync(id, wait, c => mediator.Send(new EditMessage(id, null, body.Content, body.Images), c),
                    mediator, events, concurrency, ct))
            .WithMetadata(new RequestSizeLimitAttribute(OpenAi.OpenAiEndpoints.MaxChatBodyBytes))
            .WithDescription(EditDescription);
        sessions.MapPost("/{id:guid}/messages/{messageId:guid}/edit",
            (Guid id, Guid messageId, EditMessageRequest body, bool? wait, IMediator mediator, IChatEvents events,
                UserConcurrency concurrency, CancellationToken ct) =>
                Asking.RespondAsync(id, wait,
                    c => mediator.Send(new EditMessage(id, messageId, body.Content, body.Images), c), mediator, events,
                    concurrency, ct))
            .WithMetadata(new RequestSizeLimitAttribute(OpenAi.OpenAiEndpoints.MaxChatBodyBytes))
            .WithDescription(EditDescription);
        return api;
    }
}
