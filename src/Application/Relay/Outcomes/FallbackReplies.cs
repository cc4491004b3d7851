using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>What answers when no model host did (the configured fallback, or a notice), and what it learns from the model.</summary>
public sealed class FallbackReplies(IMessageRepository messages, IFallbackResponder fallback)
{
    /// <summary>The reply to <paramref name="request"/>'s question for <paramref name="reason"/>.</summary>
    public async Task<FallbackReply> ReplyAsync(RelayRequest request, RelayTimeoutReason reason,
        CancellationToken cancellationToken)
    {
        if (request.Options.ModelOnly)
        {
            // Nothing may pretend to be the model (OpenAI's API): the caller is told no model host answered.
            return new FallbackReply(ModelOnlyNotice(reason), MessageSource.Notice);
        }

        var prompt = await messages.GetAsync(request.UserMessageId, cancellationToken);
        return await fallback.ReplyAsync(request.UserId, prompt?.Content ?? string.Empty, reason, cancellationToken);
    }

    /// <summary>The fallback learns from the model's answers, unless the request asked to keep nothing.</summary>
    public void Learn(RelayRequest request, string answer)
    {
        if (!request.Options.KeepNothing)
        {
            fallback.Learn(request.UserId, answer);
        }
    }

    /// <summary>What a request that only the model may answer gets when no model host did.</summary>
    public static string ModelOnlyNotice(RelayTimeoutReason reason) => reason switch
    {
        RelayTimeoutReason.NoAck => "No model host took this request in time.",
        RelayTimeoutReason.NoCompletion => "The model host did not finish this answer in time.",
        _ => "No model host is online to answer.",
    };
}
