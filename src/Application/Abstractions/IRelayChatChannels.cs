using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Which relay channel (on Discord) each chat holds: the relay transport's own record, kept apart from the chat
/// (table <c>relay_chat_channels</c>), so an edit of the chat and a channel assignment never overwrite each other.
/// </summary>
public interface IRelayChatChannels
{
    /// <summary>The channel <paramref name="chat"/> holds, or null.</summary>
    Task<string?> FindAsync(ChatId chat, CancellationToken cancellationToken);

    /// <summary>
    /// Records that <paramref name="chat"/> holds <paramref name="channelId"/>, unless it holds another by now; returns
    /// the channel it holds after (null when the chat is gone).
    /// </summary>
    Task<string?> AssignAsync(ChatId chat, string channelId, CancellationToken cancellationToken);

    /// <summary>
    /// The chat gives <paramref name="channelId"/> back (the relay took it for another chat); it gets a new one on next
    /// use. False when it holds another channel (or none): that one stays.
    /// </summary>
    Task<bool> ReleaseAsync(ChatId chat, string channelId, CancellationToken cancellationToken);
}
