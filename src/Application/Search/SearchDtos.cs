namespace MeatLizard.Application.Search;

/// <summary>
/// One search result: a message of a chat (<paramref name="MessageId"/>, its <paramref name="Role"/> and time), or the
/// chat itself when its title matched (both null; <paramref name="CreatedAt"/> is the chat's). <paramref name="Snippet"/>
/// is plain text from the matched title or message, <paramref name="Highlights"/> the matched words in it.
/// <paramref name="Rank"/> orders the results of one search (higher is better); it means nothing across searches.
/// <paramref name="OffPath"/>: the message is in a version of its turn the chat does not show now (an edited question's
/// earlier branch, a regenerated answer's earlier take): opening the chat at it selects it first
/// (<c>POST /sessions/{id}/messages/{messageId}/select</c>).
/// </summary>
public sealed record SearchHitDto(
    Guid ChatId, string Title, Guid? MessageId, string? Role, string Snippet, IReadOnlyList<TextRangeDto> Highlights,
    double Rank, DateTimeOffset CreatedAt, bool OffPath = false);

/// <summary>A part of a text: from <paramref name="Start"/>, <paramref name="Length"/> UTF-16 code units (as JavaScript
/// strings count).</summary>
public sealed record TextRangeDto(int Start, int Length);

/// <summary>A page of results; pass <see cref="NextCursor"/> as <c>cursor</c> for the next one (null: no more).</summary>
public sealed record SearchPage(IReadOnlyList<SearchHitDto> Results, string? NextCursor);

/// <summary>
/// What a database's search finds: a chat by its title (<paramref name="MessageId"/> null) or one of its messages, the
/// <paramref name="Text"/> that matched (the title, or the message's content), its rank and time, and whether the message
/// is off the chat's current path.
/// </summary>
public sealed record SearchMatch(
    Guid ChatId, string Title, Guid? MessageId, string? Role, string Text, double Rank, DateTimeOffset CreatedAt,
    bool OffPath = false);
