using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages.Commands;

public sealed record SendMessageResult(Guid MessageId, Guid RequestId);

/// <summary>
/// A question in a chat of the caller's, or (<see cref="InNewChat"/>) in a new chat started for it: stored with its
/// pending relay request in one conditional write (the outbox), then the dispatcher is woken (<see cref="Asking"/>).
/// </summary>
public sealed record SendMessage(
    Guid SessionId, string? Content, double? Temperature = null, double? TopP = null, int? MaxTokens = null)
    : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    /// <summary>Only a message that could be sent counts: a send refused as busy, closed or gone costs nothing.</summary>
    public bool OnlySuccessCounts => true;

    /// <summary>
    /// Set to ask in a new chat with <see cref="SessionId"/> as its id (a chat network records the question with its
    /// chat first), with this model (null: the caller's default); the chat is removed again when the question is refused.
    /// </summary>
    public NewChatModel? InNewChat { get; init; }
}

/// <summary>The model a new chat is started with; <see cref="Model"/> null for the caller's default.</summary>
public sealed record NewChatModel(string? Model);

/// <remarks>
/// The rate limits are taken (and given back when the send is refused) by the pipeline's rate-limit behaviour; a new
/// chat also costs a chat-creation token (<see cref="NewChats"/>).
/// </remarks>
public sealed class SendMessageHandler(UserAccess access, Asking asking) : IRequestHandler<SendMessage, SendMessageResult>
{
    public async Task<SendMessageResult> Handle(SendMessage request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var sessionId = new SessionId(request.SessionId);
        ChatToAsk chat = request.InNewChat is { } newChat
            ? new InNewChat(ModelName.FromOptional(newChat.Model), Id: sessionId)
            : new InChat(sessionId);
        var question = new Question(chat, PromptText.From(request.Content),
            SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens), GenerationOptions.None, "send");
        var asked = await asking.AskAsync(user, question, cancellationToken);
        return new SendMessageResult(asked.MessageId, asked.RequestId);
    }
}
