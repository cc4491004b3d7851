using MeatLizard.Application.Sharing;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>Share links (tables <c>share_links</c>, <c>share_link_messages</c>); only each token's SHA-256 is stored.</summary>
public interface IShareLinkStore
{
    /// <summary>
    /// The message a link of the chat would end at: <paramref name="upTo"/> when it is a message of the chat, else null;
    /// without <paramref name="upTo"/>, the chat's newest message (null when it has none).
    /// </summary>
    Task<MessageId?> FindEndAsync(ChatId chatId, MessageId? upTo, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a link and a copy of its chat's title and of its messages up to <paramref name="upTo"/> (included), in
    /// their order; returns how many were copied.
    /// </summary>
    Task<int> AddAsync(Guid id, UserId ownerId, ChatId chatId, MessageId upTo, string tokenHash, DateTimeOffset now,
        CancellationToken cancellationToken);

    /// <summary>The owner's links that still work, newest first; of one chat when <paramref name="chatId"/> is given.</summary>
    Task<IReadOnlyList<ShareLinkDto>> ListAsync(UserId ownerId, ChatId? chatId, CancellationToken cancellationToken);

    /// <summary>Ends the owner's link and deletes its copy; false when the owner has no such working link.</summary>
    Task<bool> RevokeAsync(UserId ownerId, Guid id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The copy a working link of an active user's shows; null for any other token.</summary>
    Task<SharedChatDto?> GetSharedAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Whose chat the image <paramref name="name"/> is of, when a message of a working link's copy holds it; null for any
    /// other token or name (an image of a later message, of another chat, of a revoked link).
    /// </summary>
    Task<SharedImageSource?> FindImageAsync(string tokenHash, string name, CancellationToken cancellationToken);
}
