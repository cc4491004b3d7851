using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Feedback.Commands;

/// <summary>
/// The chat owner takes back the rating of one answer (with its comment). Given <paramref name="Rating"/>, only a
/// rating of that kind is taken back: a thumb removed from a chat network's message withdraws what it gave, never the
/// other thumb given since. Nothing to withdraw is no error: the answer is unrated either way.
/// </summary>
/// <returns>Whether a rating was withdrawn.</returns>
public sealed record WithdrawRating(Guid ChatId, Guid MessageId, string? Rating = null) : IRequest<bool>,
    Common.Behaviours.IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class WithdrawRatingHandler(UserAccess access, IFeedbackStore feedback)
    : IRequestHandler<WithdrawRating, bool>
{
    public async Task<bool> Handle(WithdrawRating request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireOwnChatAsync(request.ChatId, cancellationToken);
        return await feedback.WithdrawAsync(chat.Id, new MessageId(request.MessageId), request.Rating, cancellationToken);
    }
}
