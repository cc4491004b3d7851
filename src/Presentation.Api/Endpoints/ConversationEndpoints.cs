using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Presentation.Api.Web;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record EditLastMessageRequest(string? Content);

/// <summary>Asking again: regenerate the last answer, or edit and resend the last message.</summary>
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
            (Guid id, EditLastMessageRequest body, bool? wait, IMediator mediator, IChatEvents events,
                UserConcurrency concurrency, CancellationToken ct) =>
                Asking.RespondAsync(id, wait, c => mediator.Send(new EditLastMessage(id, body.Content), c), mediator, events,
                    concurrency, ct));
        return api;
    }
}
