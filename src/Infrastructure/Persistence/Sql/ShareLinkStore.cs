using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Messages;
using MeatLizard.Application.Sharing;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// Share links and their copies of a chat (migration 0029), the same SQL on both databases. A copy holds the
/// conversation that ends at the chosen message: it and the messages above it in the chat's tree (by default the end
/// of the current path), never another branch.
/// </summary>
internal sealed class SqlShareLinkStore(IDatabaseSession session) : IShareLinkStore
{
    public async Task<MessageId?> FindEndAsync(ChatId chatId, MessageId? upTo, CancellationToken cancellationToken)
    {
        var id = upTo is { } asked
            ? await session.QuerySingleOrDefaultAsync<Guid?>(
                "SELECT id FROM messages WHERE id = @Id AND session_id = @ChatId",
                new { Id = asked.Value, ChatId = chatId.Value }, cancellationToken)
            : await session.QuerySingleOrDefaultAsync<Guid?>(
                "SELECT id FROM messages WHERE session_id = @ChatId AND on_path ORDER BY seq DESC LIMIT 1",
                new { ChatId = chatId.Value }, cancellationToken);
        return id is { } found ? new MessageId(found) : null;
    }

    public async Task<int> AddAsync(Guid id, UserId ownerId, ChatId chatId, MessageId upTo, string tokenHash,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var parameters = new { Id = id, OwnerId = ownerId.Value, ChatId = chatId.Value, UpTo = upTo.Value, TokenHash = tokenHash, Now = now };
        await session.ExecuteAsync("""
            INSERT INTO share_links (id, owner_id, session_id, token_hash, title, up_to_message_id, created_at)
            SELECT @Id, @OwnerId, s.id, @TokenHash, s.title, @UpTo, @Now FROM chat_sessions s WHERE s.id = @ChatId
            """, parameters, cancellationToken);
        return await session.ExecuteAsync("""
            WITH RECURSIVE path (id, parent_id) AS (
                SELECT e.id, e.parent_id FROM messages e WHERE e.id = @UpTo AND e.session_id = @ChatId
                UNION ALL
                SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id)
            INSERT INTO share_link_messages (link_id, position, role, content, source, model, created_at, images)
            SELECT @Id, m.seq, m.role, m.content, m.source, m.model, m.created_at, m.images
            FROM messages m
            WHERE m.id IN (SELECT id FROM path)
            """, parameters, cancellationToken);
    }

    public async Task<IReadOnlyList<ShareLinkDto>> ListAsync(UserId ownerId, ChatId? chatId, CancellationToken cancellationToken)
    {
        // Two statements rather than "@ChatId IS NULL OR ...", which PostgreSQL cannot type when it is null.
        var ofChat = chatId is null ? "" : "AND l.session_id = @ChatId";
        var rows = await session.QueryAsync<LinkRow>($"""
            SELECT l.id AS Id, l.session_id AS ChatId, l.title AS Title, l.up_to_message_id AS UpToMessageId,
                   CAST((SELECT COUNT(*) FROM share_link_messages c WHERE c.link_id = l.id) AS INTEGER) AS Messages,
                   l.created_at AS CreatedAt
            FROM share_links l
            WHERE l.owner_id = @OwnerId AND l.revoked_at IS NULL {ofChat}
            ORDER BY l.created_at DESC, l.id
            """, new { OwnerId = ownerId.Value, ChatId = chatId?.Value }, cancellationToken);
        return rows.Select(r => new ShareLinkDto(r.Id, r.ChatId, r.Title, r.UpToMessageId, r.Messages, r.CreatedAt)).ToList();
    }

    public async Task<bool> RevokeAsync(UserId ownerId, Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var revoked = await session.ExecuteAsync("""
            UPDATE share_links SET revoked_at = @Now WHERE id = @Id AND owner_id = @OwnerId AND revoked_at IS NULL
            """, new { Id = id, OwnerId = ownerId.Value, Now = now }, cancellationToken);
        if (revoked == 0)
        {
            return false;
        }

        await session.ExecuteAsync("DELETE FROM share_link_messages WHERE link_id = @Id", new { Id = id }, cancellationToken);
        return true;
    }

    public async Task<SharedChatDto?> GetSharedAsync(string tokenHash, CancellationToken cancellationToken)
    {
        if (await FindWorkingAsync(tokenHash, cancellationToken) is not { } link)
        {
            return null;
        }

        var messages = await session.QueryAsync<SharedMessageRow>("""
            SELECT role AS Role, content AS Content, source AS Source, model AS Model, created_at AS CreatedAt,
                   images AS Images
            FROM share_link_messages WHERE link_id = @Id ORDER BY position
            """, new { link.Id }, cancellationToken);
        return new SharedChatDto(link.Title, link.CreatedAt,
            messages.Select(m => new SharedMessageDto(m.Role, m.Content, m.Source, m.Model, m.CreatedAt)
            {
                Images = m.Images is null ? null : [.. ImagesJson.Read(m.Images).Select(i => i.ToDto())],
            }).ToList());
    }

    public async Task<SharedImageSource?> FindImageAsync(string tokenHash, string name, CancellationToken cancellationToken)
    {
        if (await FindWorkingAsync(tokenHash, cancellationToken) is not { } link)
        {
            return null;
        }

        var held = await session.QueryAsync<string>(
            "SELECT images FROM share_link_messages WHERE link_id = @Id AND images IS NOT NULL",
            new { link.Id }, cancellationToken);
        return held.SelectMany(ImagesJson.Read).Any(i => ChatImages.NameOf(i.Key) == name)
            ? new SharedImageSource(new UserId(link.OwnerId), new ChatId(link.ChatId))
            : null;
    }

    /// <summary>A link that still works: not revoked, its owner active (a banned owner's links show nothing).</summary>
    private Task<SharedRow?> FindWorkingAsync(string tokenHash, CancellationToken cancellationToken) =>
        session.QuerySingleOrDefaultAsync<SharedRow>("""
            SELECT l.id AS Id, l.owner_id AS OwnerId, l.session_id AS ChatId, l.title AS Title, l.created_at AS CreatedAt
            FROM share_links l JOIN users u ON u.id = l.owner_id
            WHERE l.token_hash = @TokenHash AND l.revoked_at IS NULL AND u.status = 'active'
            """, new { TokenHash = tokenHash }, cancellationToken);

    private sealed class LinkRow
    {
        public Guid Id { get; init; }

        public Guid ChatId { get; init; }

        public string Title { get; init; } = "";

        public Guid UpToMessageId { get; init; }

        public int Messages { get; init; }

        public DateTimeOffset CreatedAt { get; init; }
    }

    private sealed class SharedRow
    {
        public Guid Id { get; init; }

        public Guid OwnerId { get; init; }

        public Guid ChatId { get; init; }

        public string Title { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }
    }

    private sealed class SharedMessageRow
    {
        public string Role { get; init; } = "";

        public string Content { get; init; } = "";

        public string Source { get; init; } = "";

        public string? Model { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public string? Images { get; init; }
    }
}
