using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>Imported chats (migration 0034), the same SQL on both databases.</summary>
internal sealed class SqlChatImports(IDatabaseSession session) : IChatImports
{
    public async Task<bool> IsImportedAsync(UserId ownerId, string key, CancellationToken cancellationToken) =>
        await session.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM chat_sessions WHERE owner_id = @OwnerId AND import_key = @Key",
            new { OwnerId = ownerId.Value, Key = key }, cancellationToken) > 0;

    public Task MarkImportedAsync(ChatId chatId, string key, CancellationToken cancellationToken) =>
        session.ExecuteAsync("UPDATE chat_sessions SET import_key = @Key WHERE id = @Id",
            new { Id = chatId.Value, Key = key }, cancellationToken);

    public Task AddAsync(Message message, MessageId? parentId, bool onPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return session.ExecuteAsync($"""
            INSERT INTO messages ({SqlMessageRepository.InsertColumns}, on_path)
            VALUES (@Id, @SessionId, @Role, @Content, @Source, NULL, NULL, NULL, @CreatedAt, NULL, NULL, NULL, NULL,
                    @Cached, NULL, @ParentId, @OnPath)
            """, new
        {
            Id = message.Id.Value,
            SessionId = message.ChatId.Value,
            Role = SqlValues.Lower(message.Role),
            message.Content,
            Source = SqlValues.Lower(message.Source),
            message.CreatedAt,
            Cached = false, // an imported message was written elsewhere, never given from the answer cache
            ParentId = parentId?.Value,
            OnPath = onPath,
        }, cancellationToken);
    }
}
