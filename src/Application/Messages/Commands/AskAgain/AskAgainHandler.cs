using MediatR;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Messages.Commands;

/// <summary>
/// Both commands ask the chat's last question again (<see cref="Asking.AskAgainAsync"/>). They cost what a send
/// costs, taken (and given back when refused) by the pipeline's rate-limit behaviour, and are refused as a send is when
/// the chat's model queue is full.
/// </summary>
public sealed class AskAgainHandler(UserAccess access, Asking asking)
    : IRequestHandler<RegenerateAnswer, SendMessageResult>, IRequestHandler<EditLastMessage, SendMessageResult>
{
    public Task<SendMessageResult> Handle(RegenerateAnswer request, CancellationToken cancellationToken) =>
        AskAgainAsync(request.SessionId, null, cancellationToken);

    public Task<SendMessageResult> Handle(EditLastMessage request, CancellationToken cancellationToken) =>
        AskAgainAsync(request.SessionId, PromptText.From(request.Content), cancellationToken);

    private async Task<SendMessageResult> AskAgainAsync(
        Guid sessionId, PromptText? replacement, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireSessionAsync(sessionId, cancellationToken);
        var asked = await asking.AskAgainAsync(user, chat, replacement, cancellationToken);
        return new SendMessageResult(asked.MessageId, asked.RequestId);
    }
}
