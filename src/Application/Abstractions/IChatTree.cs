using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// A chat's messages as a tree, and its current path (<see cref="ConversationTree"/>), for editing, regenerating and
/// switching versions. Used only inside a unit of work.
/// </summary>
public interface IChatTree
{
    /// <summary>
    /// Every message of the chat as a node of its tree, the chat's row locked first for the rest of the unit of work, so
    /// no send or answer lands between this read and the path's change (they wait, then see it).
    /// </summary>
    Task<ConversationTree> GetLockedAsync(ChatId chatId, CancellationToken cancellationToken);

    /// <summary>Moves the chat's current path: the messages of <paramref name="change"/> leave it or join it.</summary>
    Task MoveAsync(ChatId chatId, PathChange change, CancellationToken cancellationToken);
}
