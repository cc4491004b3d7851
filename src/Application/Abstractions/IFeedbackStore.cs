using MeatLizard.Application.Feedback;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>Feedback on answers (table <c>answer_feedback</c>), one per answer, with the answer's model and host.</summary>
public interface IFeedbackStore
{
    /// <summary>Stores the rating of the answer, or changes the one stored; its model and host are read from the answer.</summary>
    Task<FeedbackDto> SaveAsync(UserId userId, ChatId chatId, MessageId answerId, string rating, string? comment,
        DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the answer's rating with its comment; given <paramref name="rating"/>, only a rating of that kind (a
    /// thumb taken away takes back what it gave, not the other thumb given since).
    /// </summary>
    /// <returns>Whether a rating was removed.</returns>
    Task<bool> WithdrawAsync(ChatId chatId, MessageId answerId, string? rating, CancellationToken cancellationToken);

    /// <summary>The feedback given on the answers of one chat.</summary>
    Task<IReadOnlyList<FeedbackDto>> ListAsync(ChatId chatId, CancellationToken cancellationToken);

    /// <summary>Every answer's feedback counted per model (then per host), most rated first.</summary>
    Task<IReadOnlyList<ModelFeedbackDto>> CountByModelAsync(CancellationToken cancellationToken);
}
