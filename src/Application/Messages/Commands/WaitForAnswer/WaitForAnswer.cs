using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Waits until the request has its answer (model, fallback or notice) and returns that message. The answer normally
/// arrives as a chat event; when none comes for <see cref="WaitForAnswerHandler.RecheckInterval"/> the stored request is
/// looked at, so an answer whose event was lost (the event bus was down) is still returned soon.
/// </summary>
public sealed record WaitForAnswer(Guid SessionId, Guid RequestId) : IRequest<MessageDto>, ILongRunningRequest
{
    /// <summary>
    /// The session's events, followed since before the caller sent the request this waits for (send with
    /// <c>?wait=true</c>): every event of the request is in it, so nothing needs to be looked up first, and the
    /// request is the caller's own. Disposed by whoever opened it.
    /// </summary>
    public IChatEventSubscription? FollowedSinceSent { get; init; }
}

public sealed class WaitForAnswerHandler(
    ICurrentUser currentUser,
    IChatEvents events,
    IRelayRequestRepository requests,
    IMessageRepository messages,
    IOptions<RelayOptions> relayOptions) : IRequestHandler<WaitForAnswer, MessageDto>
{
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);

    public async Task<MessageDto> Handle(WaitForAnswer request, CancellationToken cancellationToken)
    {
        var userId = currentUser.Id ?? throw new UnauthenticatedException("Sign in first.");

        if (request.FollowedSinceSent is { } followed)
        {
            return await WaitAsync(request, followed, cancellationToken);
        }

        // Subscribe before the first look, so an answer that lands in between is not missed. Nothing is read from
        // the subscription before the request is known to be the caller's.
        await using var subscription = await events.SubscribeAsync(request.SessionId, cancellationToken);

        // The request names its session and its sender: another user's request is reported as not found.
        var relayRequest = await requests.GetAsync(new RelayRequestId(request.RequestId), cancellationToken);
        if (relayRequest is null || relayRequest.SessionId.Value != request.SessionId || relayRequest.UserId != userId)
        {
            throw NotFoundException.Request();
        }

        if (await AnswerOfAsync(relayRequest, cancellationToken) is { } ready)
        {
            return ready;
        }

        return await WaitAsync(request, subscription, cancellationToken);
    }

    private async Task<MessageDto> WaitAsync(
        WaitForAnswer request, IChatEventSubscription subscription, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var options = relayOptions.Value;
        timeout.CancelAfter(options.AckTimeout + options.CompletionTimeout + TimeSpan.FromSeconds(10));

        while (!timeout.IsCancellationRequested)
        {
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            quiet.CancelAfter(RecheckInterval);
            try
            {
                await foreach (var chatEvent in subscription.ReadAllAsync(quiet.Token))
                {
                    if (chatEvent.RequestId != request.RequestId || chatEvent.Type == ChatEventTypes.Delta)
                    {
                        continue;
                    }

                    // The answer is published only once stored, so the event's copy is the stored message.
                    if (chatEvent is { Type: ChatEventTypes.Message, Message: { } published })
                    {
                        return published;
                    }

                    if (chatEvent.Type == ChatEventTypes.Status && MayBeFinished(chatEvent.Status)
                        && await TryGetAnswerAsync(request.RequestId, cancellationToken) is { } answer)
                    {
                        return answer;
                    }
                }

                break; // the subscription ended
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Quiet for a while (or out of time): look at the stored request.
                if (await TryGetAnswerAsync(request.RequestId, cancellationToken) is { } stored)
                {
                    return stored;
                }
            }
        }

        return await TryGetAnswerAsync(request.RequestId, cancellationToken)
               ?? throw new ConflictException("The answer did not arrive in time; it will appear in the chat when ready.");
    }

    // "queued" and "dispatched" are published before the request can finish, so the store has no answer to show
    // yet (one read less per status); the finishing status or message follows, and the quiet recheck covers a loss.
    private static bool MayBeFinished(string? status) => status is not ("queued" or "dispatched" or "requeued");

    private async Task<MessageDto?> TryGetAnswerAsync(Guid requestId, CancellationToken cancellationToken) =>
        await requests.GetAsync(new RelayRequestId(requestId), cancellationToken) is { } relayRequest
            ? await AnswerOfAsync(relayRequest, cancellationToken)
            : throw NotFoundException.Request();

    private async Task<MessageDto?> AnswerOfAsync(Domain.Relay.RelayRequest relayRequest, CancellationToken cancellationToken)
    {
        if (!relayRequest.IsFinished)
        {
            return null;
        }

        if (relayRequest.AnswerMessageId is not { } answerId)
        {
            throw new ConflictException("The generation was cancelled before it produced anything.");
        }

        var message = await messages.GetAsync(answerId, cancellationToken)
                      ?? throw NotFoundException.Answer();
        return message.ToDto();
    }
}
