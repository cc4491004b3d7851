using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>A chat's tree from <c>messages.parent_id</c>, its current path from <c>messages.on_path</c> (migration 0031).</summary>
internal sealed class SqlChatTree(IDatabaseSession session, SqlDialect dialect) : IChatTree
{
    public async Task<ConversationTree> GetLockedAsync(ChatId chatId, CancellationToken cancellationToken)
    {
        await session.ExecuteScalarLockingAsync<long>(
            $"SELECT COUNT(*) FROM (SELECT s.id FROM chat_sessions s WHERE s.id = @Id {dialect.ForUpdate}) AS chat",
            new { Id = chatId.Value }, cancellationToken);
        var rows = await session.QueryAsync<NodeRow>("""
            SELECT id AS Id, parent_id AS ParentId, role AS Role, on_path AS OnPath
            FROM messages
            WHERE session_id = @Id
            ORDER BY seq
            """, new { Id = chatId.Value }, cancellationToken);
        return new ConversationTree(rows.Select(r => new MessageNode(new MessageId(r.Id),
            r.ParentId is { } parent ? new MessageId(parent) : null, SqlValues.ToEnum<MessageRole>(r.Role), r.OnPath)).ToList());
    }

    // One statement per message that changes: a change is a branch's length, and the same SQL runs on both databases.
    public async Task MoveAsync(ChatId chatId, PathChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        foreach (var (ids, onPath) in new[] { (change.Leaving, false), (change.Joining, true) })
        {
            foreach (var id in ids)
            {
                await session.ExecuteAsync(
                    "UPDATE messages SET on_path = @OnPath WHERE id = @Id AND session_id = @ChatId",
                    new { Id = id.Value, ChatId = chatId.Value, OnPath = onPath }, cancellationToken);
            }
        }
    }

    private sealed class NodeRow
    {
        public Guid Id { get; init; }

        public Guid? ParentId { get; init; }

        public string Role { get; init; } = "";

        public bool OnPath { get; init; }
    }
}
