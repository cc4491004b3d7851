using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Both commands ask a question of the chat's current path again (<see cref="Asking.AskAgainAsync"/>). They cost what a send
/// costs, taken (and given back when refused) by the pipeline's rate-limit behaviour, and are refused as a send is when
/// the chat's model queue is full.
/// </summary>
public sealed class AskAgainHandler(UserAccess access, Asking asking)
    : IRequestHandler<RegenerateAnswer, SendMessageResult>, IRequestHandler<EditMessage, SendMessageResult>
{
    public Task<SendMessageResult> Handle(RegenerateAnswer request, CancellationToken cancellationToken) =>
        AskAgainAsync(request.SessionId, null, null, cancellationToken);

    public Task<SendMessageResult> Handle(EditMessage request, CancellationToken cancellationToken) =>
        AskAgainAsync(request.SessionId, request.MessageId is { } id ? new MessageId(id) : null,
            PromptText.From(request.Content), cancellationToken);

    private async Task<SendMessageResult> AskAgainAsync(
        Guid sessionId, MessageId? edited, PromptText? replacement, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireSessionAsync(sessionId, cancellationToken);
        var asked = await asking.AskAgainAsync(user, chat, edited, replacement, cancellationToken);
        return new SendMessageResult(asked.MessageId, asked.RequestId);
    }
}
