using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Rewrites the end of a chat, for "regenerate the last answer" and "edit and resend the last message". Used only
/// inside a unit of work, with no generation running in the session.
/// </summary>
public interface IChatHistoryEditor
{
    /// <summary>The session's newest message written by the user, if any.</summary>
    Task<MessageId?> GetLastUserMessageIdAsync(SessionId sessionId, CancellationToken cancellationToken);

    /// <summary>Removes every message of the session stored after <paramref name="messageId"/> (keeping it).</summary>
    Task RemoveAfterAsync(SessionId sessionId, MessageId messageId, CancellationToken cancellationToken);

    /// <summary>
    /// Removes <paramref name="messageId"/> and every message stored after it, with the finished requests that asked
    /// for answers to the removed user messages.
    /// </summary>
    Task RemoveFromAsync(SessionId sessionId, MessageId messageId, CancellationToken cancellationToken);
}
