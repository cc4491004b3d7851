using System.Globalization;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;

namespace MeatLizard.Application.Search.Queries;

/// <summary>
/// Full-text search over the caller's own chats (titles) and messages, best match first. A chat the caller's list
/// shows is searched, closed or not. The cursor is opaque to clients (an offset here).
/// </summary>
public sealed record SearchChats(string? Q, int Limit = SearchChats.DefaultLimit, string? Cursor = null)
    : IRequest<SearchPage>
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 50;
    public const int MaxQueryLength = 200;

    /// <summary>How deep paging goes: ranking every match again for each deeper page costs more, and nobody reads
    /// past the first few pages of a search.</summary>
    public const int MaxResults = 1000;

    /// <summary>The offset a cursor stands for; null when the text is not one this search gives.</summary>
    public static int? Offset(string? cursor) =>
        cursor is null ? 0
        : int.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
          && offset is > 0 and < MaxResults ? offset : null;
}

public sealed class SearchChatsHandler(UserAccess access, IChatSearch search) : IRequestHandler<SearchChats, SearchPage>
{
    public async Task<SearchPage> Handle(SearchChats request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var words = SearchWords.From(request.Q);
        var skip = SearchChats.Offset(request.Cursor) ?? 0;
        if (words.IsEmpty)
        {
            return new SearchPage([], null); // only separators, e.g. "***": nothing to look for
        }

        var take = Math.Min(request.Limit, SearchChats.MaxResults - skip);
        var matches = await search.SearchAsync(user.Id, words, skip, take + 1, cancellationToken);
        var more = matches.Count > take && skip + take < SearchChats.MaxResults;
        return new SearchPage(
            [.. matches.Take(take).Select(m => Hit(m, words))],
            more ? (skip + take).ToString(CultureInfo.InvariantCulture) : null);
    }

    private static SearchHitDto Hit(SearchMatch match, SearchWords words)
    {
        var (snippet, highlights) = Snippets.Make(match.Text, words);
        return new SearchHitDto(match.ChatId, match.Title, match.MessageId, match.Role, snippet, highlights, match.Rank,
            match.CreatedAt, match.OffPath);
    }
}
