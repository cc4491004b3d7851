using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Feedback.Queries;

/// <summary>The feedback given on the answers of one of the caller's chats (for the buttons under them).</summary>
public sealed record ListChatFeedback(Guid ChatId) : IRequest<IReadOnlyList<FeedbackDto>>;

public sealed class ListChatFeedbackHandler(UserAccess access, IFeedbackStore feedback)
    : IRequestHandler<ListChatFeedback, IReadOnlyList<FeedbackDto>>
{
    public async Task<IReadOnlyList<FeedbackDto>> Handle(ListChatFeedback request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        return await feedback.ListAsync(chat.Id, cancellationToken);
    }
}
