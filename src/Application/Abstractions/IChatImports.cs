using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Abstractions;

/// <summary>Imported chats (<c>chat_sessions.import_key</c>) and their messages, stored with the tree they came with.</summary>
public interface IChatImports
{
    /// <summary>Whether the owner has a chat imported under <paramref name="key"/> already.</summary>
    Task<bool> IsImportedAsync(UserId ownerId, string key, CancellationToken cancellationToken);

    /// <summary>Marks a stored chat as imported under <paramref name="key"/> (unique per owner).</summary>
    Task MarkImportedAsync(ChatId chatId, string key, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a message of an imported chat following <paramref name="parentId"/> (null: a first message), on the chat's
    /// current path or not. Messages are added parents first.
    /// </summary>
    Task AddAsync(Message message, MessageId? parentId, bool onPath, CancellationToken cancellationToken);
}
