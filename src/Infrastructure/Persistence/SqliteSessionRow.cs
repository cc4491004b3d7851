using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Sessions;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// A <c>chat_sessions</c> row as Dapper reads it from SQLite, for the session repository, the dispatcher's claim and
/// the chat list.
/// </summary>
internal sealed class SqliteSessionRow
{
    /// <summary>The columns of <c>chat_sessions</c>, as this row reads them.</summary>
    public const string Columns = """
        id AS Id, owner_id AS OwnerId, title AS Title, status AS Status, model AS Model,
        system_prompt AS SystemPrompt, temperature AS Temperature, top_p AS TopP, max_tokens AS MaxTokens,
        discord_channel_id AS DiscordChannelId, created_at AS CreatedAt, updated_at AS UpdatedAt,
        closed_at AS ClosedAt
        """;

    /// <summary>Read by <see cref="SqliteChatSessionRepository.GetWithAnswerStateAsync"/> only.</summary>
    public bool Answering { get; init; }

    public string Id { get; init; } = "";

    public string OwnerId { get; init; } = "";

    public string Title { get; init; } = "";

    public string Status { get; init; } = "";

    public string? Model { get; init; }

    public string? SystemPrompt { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? MaxTokens { get; init; }

    public string? DiscordChannelId { get; init; }

    public long CreatedAt { get; init; }

    public long UpdatedAt { get; init; }

    public long? ClosedAt { get; init; }

    public ChatSession ToSession() => ChatSession.Restore(
        new SessionId(SqlValues.ToGuid(Id)),
        new UserId(SqlValues.ToGuid(OwnerId)),
        SessionTitle.Restore(Title),
        SqlValues.ToEnum<SessionStatus>(Status),
        ModelName.FromOptional(Model),
        Domain.Common.SystemPrompt.FromOptional(StorableText.Clean(SystemPrompt ?? "")),
        SamplingParameters.Create(Temperature, TopP, MaxTokens),
        DiscordChannelId,
        SqlValues.ToInstant(CreatedAt),
        SqlValues.ToInstant(UpdatedAt),
        SqlValues.ToInstant(ClosedAt));

    /// <summary>As the owner's chat list shows it (<see cref="SqliteChatReadModel.ListSessionsAsync"/>).</summary>
    public SessionDto ToDto() => new(
        SqlValues.ToGuid(Id), Title, Status, Model, SystemPrompt, Temperature, TopP, MaxTokens,
        SqlValues.ToInstant(CreatedAt), SqlValues.ToInstant(UpdatedAt), SqlValues.ToInstant(ClosedAt));
}
