using MeatLizard.Domain.Common;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// A <c>chat_sessions</c> row as Dapper reads it, for the session repository, the dispatcher's claim and
/// the chat list.
/// </summary>
internal class ChatRow
{
    /// <summary>The columns of <c>chat_sessions</c> aliased <c>s</c>, as this row reads them.</summary>
    public const string Columns = """
        s.id AS Id, s.owner_id AS OwnerId, s.title AS Title, s.status AS Status, s.model AS Model,
        s.system_prompt AS SystemPrompt, s.temperature AS Temperature, s.top_p AS TopP, s.max_tokens AS MaxTokens,
        s.created_at AS CreatedAt, s.updated_at AS UpdatedAt,
        s.closed_at AS ClosedAt
        """;

    /// <summary>Read by <see cref="SqlChatRepository.GetWithAnswerStateAsync"/> only.</summary>
    public bool Answering { get; init; }

    /// <summary>
    /// Read by <see cref="SqlChatRepository.GetWithAnswerStateAsync"/> only: a text that every write of the row
    /// changes (<see cref="SqlDialect.RowVersion"/>).
    /// </summary>
    public string Version { get; init; } = "";

    public Guid Id { get; init; }

    public Guid OwnerId { get; init; }

    public string Title { get; init; } = "";

    public string Status { get; init; } = "";

    public string? Model { get; init; }

    public string? SystemPrompt { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? MaxTokens { get; init; }


    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    public DateTimeOffset? ClosedAt { get; init; }

    public Chat ToSession() => Chat.Restore(
        new ChatId(Id),
        new UserId(OwnerId),
        ChatTitle.Restore(Title),
        SqlValues.ToEnum<ChatStatus>(Status),
        ModelName.FromOptional(Model),
        Domain.Common.SystemPrompt.FromOptional(StorableText.Clean(SystemPrompt ?? "")),
        SamplingParameters.Create(Temperature, TopP, MaxTokens),
        CreatedAt,
        UpdatedAt,
        ClosedAt);
}

/// <summary>A chat as its owner's list reads it (<see cref="SqlChatReadModel.ListChatsAsync"/>): where they keep it.</summary>
internal sealed class ListedChatRow : ChatRow
{
    public DateTimeOffset? PinnedAt { get; init; }

    public DateTimeOffset? ArchivedAt { get; init; }

    public Guid? FolderId { get; init; }

    public DateTimeOffset LastActivity { get; init; }
}
