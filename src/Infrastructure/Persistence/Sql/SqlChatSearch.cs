using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Search;
using MeatLizard.Domain.Common;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// What both databases' search share: the query's parameters (@Words, @OwnerId, @Skip, @Take, @MaxText) and its rows.
/// Each database gives its own statement and writes the words in its own query language.
/// </summary>
internal abstract class SqlChatSearch(IDatabaseSession session) : IChatSearch
{
    /// <summary>How much of a message is read to make its snippet: as much as PostgreSQL indexes of it.</summary>
    protected const int MaxText = 100_000;

    /// <summary>The statement: the owner's matches, best first, then newest, one page, each with its text.</summary>
    protected abstract string Sql { get; }

    /// <summary>The words as the database's query language takes them, all required.</summary>
    protected abstract string Terms(SearchWords words);

    /// <summary>What the database does before a search, so that it finds everything stored before it.</summary>
    protected virtual Task BeforeSearchAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<IReadOnlyList<SearchMatch>> SearchAsync(
        UserId ownerId, SearchWords words, int skip, int take, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (words.IsEmpty || take <= 0)
        {
            return [];
        }

        await BeforeSearchAsync(cancellationToken);
        var rows = await session.QueryAsync<Row>(Sql, new
        {
            Words = Terms(words),
            OwnerId = ownerId.Value,
            Skip = skip,
            Take = take,
            MaxText,
        }, cancellationToken);
        return rows.Select(r => new SearchMatch(r.ChatId, r.Title, r.MessageId, r.Role, r.Text, r.Rank, r.CreatedAt, r.OffPath))
            .ToList();
    }

    private sealed class Row
    {
        public Guid ChatId { get; init; }

        public string Title { get; init; } = "";

        public Guid? MessageId { get; init; }

        public string? Role { get; init; }

        public double Rank { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public string Text { get; init; } = "";

        public bool OffPath { get; init; }
    }
}
