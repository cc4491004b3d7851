using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages.Commands;

public sealed record SendMessageResult(Guid MessageId, Guid RequestId);

/// <summary>
/// Stores the user's message and a pending relay request in one transaction (the outbox), then wakes the dispatcher.
/// </summary>
public sealed record SendMessage(
    Guid SessionId, string? Content, double? Temperature = null, double? TopP = null, int? MaxTokens = null)
    : IRequest<SendMessageResult>;

public sealed class SendMessageValidator : AbstractValidator<SendMessage>
{
    // Length is checked by the domain (413 rather than 400); here only what makes the request malformed.
    public SendMessageValidator() =>
        RuleFor(x => x.Content).NotEmpty().OverridePropertyName("content").WithMessage("A message needs some text.");
}

public sealed class SendMessageHandler(
    UserAccess access,
    IRateLimiter rateLimiter,
    ICurrentUser currentUser,
    IUnitOfWork unitOfWork,
    IChatSessionRepository sessions,
    IMessageRepository messages,
    IRelayRequestRepository requests,
    IRelayQueueSignal queueSignal,
    IChatEvents events,
    IClock clock) : IRequestHandler<SendMessage, SendMessageResult>
{
    public async Task<SendMessageResult> Handle(SendMessage request, CancellationToken cancellationToken)
    {
        if (currentUser.ClientIp is { } ip)
        {
            await EnsureAllowedAsync(RateLimitScope.Ip, ip, cancellationToken);
        }

        var user = await access.RequireActiveUserAsync(cancellationToken);
        var content = PromptText.From(request.Content);
        var sampling = SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens);

        var relayRequest = await unitOfWork.InTransactionAsync(async ct =>
        {
            // Read inside the unit of work, right before the writes, so a close or a settings change a moment ago is
            // not undone.
            var state = await sessions.GetWithAnswerStateAsync(new SessionId(request.SessionId), ct);
            if (state is null || !state.Session.IsVisibleTo(user))
            {
                throw new NotFoundException("There is no chat with this id.");
            }

            var current = state.Session;
            if (state.IsAnswering)
            {
                throw new ConflictException(
                    "An answer is still being generated in this chat; wait for it or cancel it first.");
            }

            // Only a message that could be sent counts against the user's limit.
            await EnsureAllowedAsync(RateLimitScope.User, user.Id.ToString(), ct);
            var now = clock.UtcNow;
            var message = current.PostUserMessage(user, content, now);
            var pending = RelayRequest.Create(current.Id, user.Id, message.Id, sampling.Over(current.Sampling), now);
            await messages.AddAsync(message, ct);
            await requests.AddAsync(pending, ct);
            await sessions.UpdateAsync(current, ct);
            return pending;
        }, cancellationToken);

        queueSignal.NotifyPending();
        await events.PublishAsync(
            new ChatEvent(ChatEventTypes.Status, relayRequest.SessionId.Value, relayRequest.Id.Value, Status: "queued"),
            cancellationToken);
        return new SendMessageResult(relayRequest.UserMessageId.Value, relayRequest.Id.Value);
    }

    private async Task EnsureAllowedAsync(RateLimitScope scope, string key, CancellationToken cancellationToken)
    {
        var decision = await rateLimiter.TryAcquireAsync(scope, key, cancellationToken);
        if (!decision.Allowed)
        {
            throw new RateLimitedException(decision.RetryAfter, scope.ToString().ToLowerInvariant());
        }
    }
}
