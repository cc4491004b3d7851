using MeatLizard.Application.Chats.Organising;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// How a user keeps their chats in order (issue 40): pinned, archived, in a folder (table <c>chat_folders</c>). Every
/// write names the owner and changes only the owner's rows: false (nothing changed) when the chat or folder is not
/// theirs. None of them changes a chat's <c>updated_at</c>.
/// </summary>
public interface IChatOrganisation
{
    /// <summary>Pins the chat at <paramref name="pinnedAt"/>, or unpins it when null.</summary>
    Task<bool> SetPinnedAsync(UserId ownerId, ChatId chatId, DateTimeOffset? pinnedAt, CancellationToken cancellationToken);

    /// <summary>Archives the chat at <paramref name="archivedAt"/>, or brings it back to the list when null.</summary>
    Task<bool> SetArchivedAsync(UserId ownerId, ChatId chatId, DateTimeOffset? archivedAt, CancellationToken cancellationToken);

    /// <summary>Puts the chat in the folder (out of any when null); false when the chat is not the owner's.</summary>
    Task<bool> MoveToFolderAsync(UserId ownerId, ChatId chatId, Guid? folderId, CancellationToken cancellationToken);

    /// <summary>Of <paramref name="chatIds"/>, those the owner has.</summary>
    Task<IReadOnlyList<ChatId>> FindOwnedAsync(UserId ownerId, IReadOnlyCollection<Guid> chatIds,
        CancellationToken cancellationToken);

    /// <summary>The owner's folders, by name, each with how many chats it holds.</summary>
    Task<IReadOnlyList<ChatFolderDto>> ListFoldersAsync(UserId ownerId, CancellationToken cancellationToken);

    Task<bool> FolderExistsAsync(UserId ownerId, Guid folderId, CancellationToken cancellationToken);

    /// <summary>Whether another folder of the owner's has this name, ignoring case.</summary>
    Task<bool> FolderNameTakenAsync(UserId ownerId, string name, Guid? except, CancellationToken cancellationToken);

    Task AddFolderAsync(UserId ownerId, Guid folderId, string name, DateTimeOffset now, CancellationToken cancellationToken);

    Task<bool> RenameFolderAsync(UserId ownerId, Guid folderId, string name, CancellationToken cancellationToken);

    /// <summary>Deletes the folder; its chats stay, out of any folder.</summary>
    Task<bool> DeleteFolderAsync(UserId ownerId, Guid folderId, CancellationToken cancellationToken);
}
