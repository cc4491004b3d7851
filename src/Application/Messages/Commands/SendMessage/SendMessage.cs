using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages.Commands;

public sealed record SendMessageResult(Guid MessageId, Guid RequestId);

/// <summary>
/// A question in a chat of the caller's: stored with its pending relay request in one conditional write (the outbox),
/// then the dispatcher is woken (<see cref="Asking"/>). <see cref="Images"/>: the question's images as <c>data:</c>
/// URLs, read as <c>/v1</c> reads them (<see cref="ImageDataUrls"/>) and kept in the object store with the message.
/// </summary>
public sealed record SendMessage(
    Guid ChatId, string? Content, double? Temperature = null, double? TopP = null, int? MaxTokens = null,
    IReadOnlyList<string?>? Images = null)
    : IRequest<SendMessageResult>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => RateLimitScopes.ModelWork;

    /// <summary>Only a message that could be sent counts: a send refused as busy, closed or gone costs nothing.</summary>
    public bool OnlySuccessCounts => true;
}

/// <remarks>
/// The rate limits are taken (and given back when the send is refused) by the pipeline's rate-limit behaviour. A
/// question with images is refused (400 naming <c>images[0]</c>) when no online host's model of the chat takes images,
/// before any is kept; images kept for a question refused after all are deleted again.
/// </remarks>
public sealed class SendMessageHandler(UserAccess access, Asking asking, QuestionImages questionImages)
    : IRequestHandler<SendMessage, SendMessageResult>
{
    public async Task<SendMessageResult> Handle(SendMessage request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var images = questionImages.Read(request.Images);
        var chatId = new ChatId(request.ChatId);
        var question = new Question(new InChat(chatId), PromptText.From(request.Content),
            SamplingParameters.Create(request.Temperature, request.TopP, request.MaxTokens), GenerationOptions.None, "send");
        if (images.Count == 0)
        {
            return Sent(await asking.AskAsync(user, question, cancellationToken));
        }

        var (_, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        return Sent(await questionImages.AskWithAsync(user.Id, chat, images,
            kept => asking.AskAsync(user, question with { Images = kept }, cancellationToken), cancellationToken));
    }

    private static SendMessageResult Sent(Asked asked) => new(asked.MessageId, asked.RequestId);
}
