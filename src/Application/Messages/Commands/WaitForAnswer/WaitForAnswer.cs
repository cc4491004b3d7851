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
/// Waits until the request has its answer (model, fallback or notice) and returns that message, as
/// <see cref="AnswerFollower"/> follows it.
/// </summary>
public sealed record WaitForAnswer(Guid ChatId, Guid RequestId) : IRequest<MessageDto>, ILongRunningRequest
{
    /// <summary>
    /// The session's events, followed since before the caller sent the request this waits for (send with
    /// <c>?wait=true</c>): every event of the request is in it, so nothing needs to be looked up first, and the
    /// request is the caller's own. Disposed by whoever opened it.
    /// </summary>
    public IChatEventSubscription? FollowedSinceSent { get; init; }
}

public sealed class WaitForAnswerHandler(ICurrentUser currentUser, IChatEvents events, IRelayRequestRepository requests,
    AnswerFollower follower) : IRequestHandler<WaitForAnswer, MessageDto>
{
    public async Task<MessageDto> Handle(WaitForAnswer request, CancellationToken cancellationToken)
    {
        var userId = currentUser.Id ?? throw new UnauthenticatedException("Sign in first.");

        if (request.FollowedSinceSent is { } followed)
        {
            return await WaitAsync(followed, request.RequestId, lookFirst: false, cancellationToken);
        }

        // Subscribe before the first look, so an answer that lands in between is not missed. Nothing is read from
        // the subscription before the request is known to be the caller's.
        await using var subscription = await events.SubscribeAsync(request.ChatId, cancellationToken);

        // The request names its session and its sender: another user's request is reported as not found.
        var relayRequest = await requests.GetAsync(new RelayRequestId(request.RequestId), cancellationToken);
        if (relayRequest is null || relayRequest.ChatId.Value != request.ChatId || relayRequest.UserId != userId)
        {
            throw NotFoundException.Request();
        }

        return await WaitAsync(subscription, request.RequestId, lookFirst: true, cancellationToken);
    }

    private async Task<MessageDto> WaitAsync(IChatEventSubscription subscription, Guid requestId, bool lookFirst,
        CancellationToken cancellationToken)
    {
        await foreach (var update in follower.FollowAsync(subscription, requestId, lookFirst, cancellationToken))
        {
            switch (update)
            {
                case AnswerGiven given:
                    return given.Answer;
                case AnswerWithdrawn:
                    throw new ConflictException("The generation was cancelled before it produced anything.");
                case AnswerLate:
                    throw new ConflictException("The answer did not arrive in time; it will appear in the chat when ready.");
            }
        }

        throw new InvalidOperationException("A followed answer ends with how it ended.");
    }
}
