using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// A question a member asked on a network (their message <paramref name="MessageId"/>), who asked it where, the chat it
/// went to, the request it became (null until sent), the bot's first reply to it (null until posted) and when its
/// answer was shown (null until then).
/// </summary>
public sealed record ChannelQuestion(
    string Network, string ChatId, string MessageId, string MemberId, string? GroupId, ChatId SessionId,
    Guid? RequestId, string? ReplyMessageId, DateTimeOffset AskedAt, DateTimeOffset? AnsweredAt);

/// <summary>A message the bot posted on a network, as the answer <paramref name="AnswerId"/> of chat <paramref name="ChatId"/>.</summary>
public sealed record PostedAnswer(ChatId ChatId, MessageId AnswerId);

/// <summary>
/// Which chat each message the bot posted on a network belongs to (table <c>channel_messages</c>), so a reply to it
/// continues that chat, and each member's current chat in a place (table <c>channel_current_chats</c>), so a private
/// chat goes on until <c>/reset</c>. Ids are the network's, as strings.
/// </summary>
public interface IChannelConversationStore
{
    /// <summary>The chat a posted message belongs to; null for a message the bot did not post (or forgot).</summary>
    Task<ChatId?> FindByPostedMessageAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken);

    /// <summary>Records that the bot posted <paramref name="messageId"/> for <paramref name="sessionId"/>.</summary>
    Task RememberPostedAsync(string network, string chatId, string messageId, ChatId sessionId,
        CancellationToken cancellationToken);

    /// <summary>
    /// Records that the posted messages <paramref name="messageIds"/> (every part of one answer) show the answer
    /// <paramref name="answerId"/> of their chat, so a reaction on any of them rates it.
    /// </summary>
    Task SetPostedAnswerAsync(string network, string chatId, IReadOnlyList<string> messageIds, MessageId answerId,
        CancellationToken cancellationToken);

    /// <summary>The chat and answer a posted message shows; null for one that shows no answer (or was not posted by the bot).</summary>
    Task<PostedAnswer?> FindPostedAnswerAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken);

    /// <summary>The member's current chat in this place, if any.</summary>
    Task<ChatId?> FindCurrentAsync(string network, string chatId, string memberId, CancellationToken cancellationToken);

    /// <summary>Sets the member's current chat in this place; null forgets it (<c>/reset</c>).</summary>
    Task SetCurrentAsync(string network, string chatId, string memberId, ChatId? sessionId,
        CancellationToken cancellationToken);

    /// <summary>The question asked by message <paramref name="messageId"/>, if it was seen before (table <c>channel_questions</c>).</summary>
    Task<ChannelQuestion?> FindQuestionAsync(string network, string chatId, string messageId, CancellationToken cancellationToken);

    /// <summary>Records a question about to be sent; false when it was recorded already (seen twice).</summary>
    Task<bool> TryAddQuestionAsync(ChannelQuestion question, CancellationToken cancellationToken);

    /// <summary>The request the question became, once sent.</summary>
    Task SetQuestionRequestAsync(string network, string chatId, string messageId, Guid requestId,
        CancellationToken cancellationToken);

    /// <summary>The bot's first reply to the question, once posted: an answer finished later edits it.</summary>
    Task SetQuestionReplyAsync(string network, string chatId, string messageId, string replyMessageId,
        CancellationToken cancellationToken);

    /// <summary>The question's answer (or refusal) was shown: it is never followed again.</summary>
    Task MarkQuestionAnsweredAsync(string network, string chatId, string messageId, CancellationToken cancellationToken);

    /// <summary>Questions of <paramref name="network"/> asked since <paramref name="since"/> whose answer was never shown, oldest first.</summary>
    Task<IReadOnlyList<ChannelQuestion>> ListUnansweredQuestionsAsync(string network, DateTimeOffset since, int max,
        CancellationToken cancellationToken);
}
