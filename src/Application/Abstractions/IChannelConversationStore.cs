using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Which chat each message the bot posted on a network belongs to (table <c>channel_messages</c>), so a reply to it
/// continues that chat, and each member's current chat in a place (table <c>channel_current_chats</c>), so a private
/// chat goes on until <c>/reset</c>. Ids are the network's, as strings.
/// </summary>
public interface IChannelConversationStore
{
    /// <summary>The chat a posted message belongs to; null for a message the bot did not post (or forgot).</summary>
    Task<SessionId?> FindByPostedMessageAsync(string network, string chatId, string messageId,
        CancellationToken cancellationToken);

    /// <summary>Records that the bot posted <paramref name="messageId"/> for <paramref name="sessionId"/>.</summary>
    Task RememberPostedAsync(string network, string chatId, string messageId, SessionId sessionId,
        CancellationToken cancellationToken);

    /// <summary>The member's current chat in this place, if any.</summary>
    Task<SessionId?> FindCurrentAsync(string network, string chatId, string memberId, CancellationToken cancellationToken);

    /// <summary>Sets the member's current chat in this place; null forgets it (<c>/reset</c>).</summary>
    Task SetCurrentAsync(string network, string chatId, string memberId, SessionId? sessionId,
        CancellationToken cancellationToken);
}
