using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Chats.Organising;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Pins, the archive and folders (migration 0034), the same SQL on both databases; every write names the owner.</summary>
internal sealed class SqlChatOrganisation(IDatabaseSession session) : IChatOrganisation
{
    public async Task<bool> SetPinnedAsync(UserId ownerId, ChatId chatId, DateTimeOffset? pinnedAt,
        CancellationToken cancellationToken) =>
        await session.ExecuteAsync("UPDATE chat_sessions SET pinned_at = @At WHERE id = @Id AND owner_id = @OwnerId",
            new { Id = chatId.Value, OwnerId = ownerId.Value, At = pinnedAt }, cancellationToken) == 1;

    public async Task<bool> SetArchivedAsync(UserId ownerId, ChatId chatId, DateTimeOffset? archivedAt,
        CancellationToken cancellationToken) =>
        await session.ExecuteAsync("UPDATE chat_sessions SET archived_at = @At WHERE id = @Id AND owner_id = @OwnerId",
            new { Id = chatId.Value, OwnerId = ownerId.Value, At = archivedAt }, cancellationToken) == 1;

    public async Task<bool> MoveToFolderAsync(UserId ownerId, ChatId chatId, Guid? folderId,
        CancellationToken cancellationToken) =>
        await session.ExecuteAsync("UPDATE chat_sessions SET folder_id = @FolderId WHERE id = @Id AND owner_id = @OwnerId",
            new { Id = chatId.Value, OwnerId = ownerId.Value, FolderId = folderId }, cancellationToken) == 1;

    public async Task<IReadOnlyList<ChatId>> FindOwnedAsync(UserId ownerId, IReadOnlyCollection<Guid> chatIds,
        CancellationToken cancellationToken)
    {
        // One primary-key read per id (at most DeleteChats.MaxChats): the same SQL on both databases.
        var owned = new List<ChatId>();
        foreach (var id in chatIds)
        {
            if (await session.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM chat_sessions WHERE id = @Id AND owner_id = @OwnerId",
                    new { Id = id, OwnerId = ownerId.Value }, cancellationToken) > 0)
            {
                owned.Add(new ChatId(id));
            }
        }

        return owned;
    }

    public async Task<IReadOnlyList<ChatFolderDto>> ListFoldersAsync(UserId ownerId, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<FolderRow>("""
            SELECT f.id AS Id, f.name AS Name, f.created_at AS CreatedAt,
                   (SELECT COUNT(*) FROM chat_sessions s WHERE s.folder_id = f.id) AS Chats
            FROM chat_folders f
            WHERE f.owner_id = @OwnerId
            ORDER BY lower(f.name), f.id
            """, new { OwnerId = ownerId.Value }, cancellationToken);
        return rows.Select(r => new ChatFolderDto(r.Id, r.Name, (int)r.Chats, r.CreatedAt)).ToList();
    }

    public async Task<bool> FolderExistsAsync(UserId ownerId, Guid folderId, CancellationToken cancellationToken) =>
        await session.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM chat_folders WHERE id = @Id AND owner_id = @OwnerId",
            new { Id = folderId, OwnerId = ownerId.Value }, cancellationToken) > 0;

    public async Task<bool> FolderNameTakenAsync(UserId ownerId, string name, Guid? except,
        CancellationToken cancellationToken)
    {
        var other = except is null ? "" : "AND id <> @Except";
        return await session.ExecuteScalarAsync<long>($"""
            SELECT COUNT(*) FROM chat_folders WHERE owner_id = @OwnerId AND lower(name) = lower(@Name) {other}
            """, new { OwnerId = ownerId.Value, Name = name, Except = except }, cancellationToken) > 0;
    }

    public Task AddFolderAsync(UserId ownerId, Guid folderId, string name, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        session.ExecuteAsync("""
            INSERT INTO chat_folders (id, owner_id, name, created_at) VALUES (@Id, @OwnerId, @Name, @Now)
            """, new { Id = folderId, OwnerId = ownerId.Value, Name = name, Now = now }, cancellationToken);

    public async Task<bool> RenameFolderAsync(UserId ownerId, Guid folderId, string name,
        CancellationToken cancellationToken) =>
        await session.ExecuteAsync("UPDATE chat_folders SET name = @Name WHERE id = @Id AND owner_id = @OwnerId",
            new { Id = folderId, OwnerId = ownerId.Value, Name = name }, cancellationToken) == 1;

    // Its chats stay, in no folder: the foreign key sets their folder_id to NULL in the same statement.
    public async Task<bool> DeleteFolderAsync(UserId ownerId, Guid folderId, CancellationToken cancellationToken) =>
        await session.ExecuteAsync("DELETE FROM chat_folders WHERE id = @Id AND owner_id = @OwnerId",
            new { Id = folderId, OwnerId = ownerId.Value }, cancellationToken) == 1;

    private sealed class FolderRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }

        public long Chats { get; init; }
    }
}
