using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages.Commands;

public sealed record SendMessageResult(Guid MessageId, Guid RequestId);

/// <summary>
/// A question in a chat of the caller's: stored with its pending relay request in one conditional write (the outbox),
/// then the dispatcher is woken (<see cref="Asking"/>).
/// </summary>
public sealed record SendMessage(
    Guid SessionId, string? Content, double? Temperature = null, double? TopP = null, int? MaxTokens = null)
    : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    /// <summary>Only a message that could be sent counts: a send refused as busy, closed or gone costs nothing.</summary>
    public bool OnlySuccessCounts => true;
}

/// <remarks>The rate limits are taken (and given back when the send is refused) by the pipeline's rate-limit behaviour.</remarks>
public sealed class SendMessageHandler(UserAccess access, Asking asking) : IRequestHandler<SendMessage, SendMessageResult>
{
    public async Task<SendMessageResult> Handle(SendMessage request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var question = new Question(new InChat(new SessionId(request.SessionId)), PromptText.From(request.Content),
            SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens), GenerationOptions.None, "send");
        var asked = await asking.AskAsync(user, question, cancellationToken);
        return new SendMessageResult(asked.MessageId, asked.RequestId);
    }
}
