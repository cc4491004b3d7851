using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Both commands ask a question of the chat's current path again (<see cref="Asking.AskAgainAsync"/>). They cost what a send
/// costs, taken (and given back when refused) by the pipeline's rate-limit behaviour, and are refused as a send is when
/// the chat's model queue is full.
/// </summary>
public sealed class AskAgainHandler(UserAccess access, Asking asking, QuestionImages questionImages)
    : IRequestHandler<RegenerateAnswer, SendMessageResult>, IRequestHandler<EditMessage, SendMessageResult>
{
    public async Task<SendMessageResult> Handle(RegenerateAnswer request, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        return Result(await asking.AskAgainAsync(user, chat, null, null, cancellationToken));
    }

    /// <remarks>
    /// New images are checked as a send's are (a 400 naming <c>images[N]</c>, the chat's model must take images) before
    /// any is kept, and deleted again when the edit is refused after all.
    /// </remarks>
    public async Task<SendMessageResult> Handle(EditMessage request, CancellationToken cancellationToken)
    {
        var images = questionImages.Read(request.Images);
        var (user, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        MessageId? edited = request.MessageId is { } id ? new MessageId(id) : null;
        var words = PromptText.From(request.Content);
        if (images.Count == 0)
        {
            // Null keeps the edited question's images; an empty list says it has none now.
            return Result(await asking.AskAgainAsync(user, chat, edited, words, cancellationToken,
                request.Images is null ? null : []));
        }

        return Result(await questionImages.AskWithAsync(user.Id, chat, images,
            kept => asking.AskAgainAsync(user, chat, edited, words, cancellationToken, kept), cancellationToken));
    }

    private static SendMessageResult Result(Asked asked) => new(asked.MessageId, asked.RequestId);
}
