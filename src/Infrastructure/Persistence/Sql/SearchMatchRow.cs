using MeatLizard.Application.Search;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>A search result row as both databases' search reads it.</summary>
internal sealed class SearchMatchRow
{
    /// <summary>How much of a message is read to make its snippet: as much as PostgreSQL indexes of it.</summary>
    public const int MaxText = 100_000;

    public Guid ChatId { get; init; }

    public string Title { get; init; } = "";

    public Guid? MessageId { get; init; }

    public string? Role { get; init; }

    public double Rank { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public string Text { get; init; } = "";

    public SearchMatch ToMatch() => new(ChatId, Title, MessageId, Role, Text, Rank, CreatedAt);
}
