using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Presentation.Api.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MeatLizard.Presentation.Api.Endpoints;

/// <summary>What send, regenerate and edit-last answer: 202 with the ids, or with <c>?wait=true</c> 200 with the answer.</summary>
internal static class Asking
{
    public static async Task<Results<Accepted<SendMessageResult>, Ok<MessageDto>>> RespondAsync(Guid chatId, bool? wait,
        Func<CancellationToken, Task<SendMessageResult>> ask, IMediator mediator, IChatEvents events,
        UserConcurrency concurrency, CancellationToken ct)
    {
        if (wait != true)
        {
            return TypedResults.Accepted($"/api/v1/sessions/{chatId}/messages", await ask(ct));
        }

        // Taken before sending: a caller over its quota is refused without a message queued.
        await using var place = await concurrency.EnterAsync(ConcurrencyScope.WaitingCall, ct);

        // Followed before sending, so none of the request's events can be missed and nothing is looked up first;
        // nothing is read from it unless the send (which checks the caller may use the chat) succeeds.
        await using var followed = await events.SubscribeAsync(chatId, ct);
        var sent = await ask(ct);
        return TypedResults.Ok(await mediator.Send(
            new WaitForAnswer(chatId, sent.RequestId) { FollowedSinceSent = followed }, ct));
    }
}
