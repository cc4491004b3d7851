using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Presentation.Api.Web;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record EditMessageRequest(string? Content);

/// <summary>
/// Asking again: regenerate the last answer (the earlier one kept as a version beside it), or edit a question of the
/// current path (the last, or any by its id) into a new version that starts a branch.
/// </summary>
public static class ConversationEndpoints
{
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
                Asking.RespondAsync(id, wait, c => mediator.Send(new EditMessage(id, null, body.Content), c), mediator,
                    events, concurrency, ct));
        sessions.MapPost("/{id:guid}/messages/{messageId:guid}/edit",
            (Guid id, Guid messageId, EditMessageRequest body, bool? wait, IMediator mediator, IChatEvents events,
                UserConcurrency concurrency, CancellationToken ct) =>
                Asking.RespondAsync(id, wait, c => mediator.Send(new EditMessage(id, messageId, body.Content), c), mediator,
                    events, concurrency, ct));
        return api;
    }
}
