using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Feedback.Commands;

/// <summary>The chat owner's thumbs up or down on one answer of the chat, with an optional comment; given again, it
/// replaces the one before.</summary>
public sealed record RateAnswer(Guid ChatId, Guid MessageId, string? Rating, string? Comment) : IRequest<FeedbackDto>,
    Common.Behaviours.IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class RateAnswerHandler(UserAccess access, IMessageRepository messages, IFeedbackStore feedback, IClock clock)
    : IRequestHandler<RateAnswer, FeedbackDto>
{
    public async Task<FeedbackDto> Handle(RateAnswer request, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireOwnChatAsync(request.ChatId, cancellationToken);
        var answer = await messages.GetAsync(new MessageId(request.MessageId), cancellationToken);
        if (answer is null || answer.ChatId != chat.Id || answer.Role != MessageRole.Assistant)
        {
            throw NotFoundException.Answer();
        }

        var comment = string.IsNullOrWhiteSpace(request.Comment) ? null : request.Comment.Trim();
        return await feedback.SaveAsync(user.Id, chat.Id, answer.Id, request.Rating!, comment, clock.UtcNow, cancellationToken);
    }
}
