using MediatR;
using MeatLizard.Application.Messages.Commands;

namespace MeatLizard.Presentation.Api.Endpoints;

public sealed record EditLastMessageRequest(string? Content);

/// <summary>Asking again: regenerate the last answer, or edit and resend the last message.</summary>
public static class ConversationEndpoints
{
    public static RouteGroupBuilder MapConversationEndpoints(this RouteGroupBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions").RequireAuthorization();
        sessions.MapPost("/{id:guid}/regenerate", (Guid id, bool? wait, IMediator mediator, CancellationToken ct) =>
            RespondAsync(id, wait, mediator.Send(new RegenerateAnswer(id), ct), mediator, ct));
        sessions.MapPost("/{id:guid}/edit-last", (Guid id, EditLastMessageRequest body, bool? wait, IMediator mediator, CancellationToken ct) =>
            RespondAsync(id, wait, mediator.Send(new EditLastMessage(id, body.Content), ct), mediator, ct));
        return api;
    }

    /// <summary>202 with the ids, or with <c>?wait=true</c> 200 with the new answer once it exists.</summary>
    private static async Task<IResult> RespondAsync(
        Guid id, bool? wait, Task<SendMessageResult> asking, IMediator mediator, CancellationToken ct)
    {
        var sent = await asking;
        return wait == true
            ? Results.Ok(await mediator.Send(new WaitForAnswer(id, sent.RequestId), ct))
            : Results.Accepted($"/api/v1/sessions/{id}/messages", sent);
    }
}
