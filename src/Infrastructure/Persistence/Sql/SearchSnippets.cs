using System.Text;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// The snippets both databases' search marks: the matched words between two private-use characters (U+E000, U+E001),
/// which no keyboard types, turned into plain text and the ranges of its matches, so clients render them without
/// parsing markup out of what a user wrote. Runs of white space become one space: a snippet is read on one line.
/// </summary>
internal static class SearchSnippets
{
    public const char Start = '\uE000';
    public const char End = '\uE001';

    public static (string Text, IReadOnlyList<TextRangeDto> Highlights) Read(string? marked)
    {
        var text = new StringBuilder((marked ?? "").Length);
        var highlights = new List<TextRangeDto>();
        var openedAt = -1;
        foreach (var c in (marked ?? "").Trim())
        {
            if (c == Start)
            {
                openedAt = text.Length;
            }
            else if (c == End)
            {
                // A marker a user typed (there is no second one) marks nothing.
                if (openedAt >= 0 && text.Length > openedAt)
                {
                    highlights.Add(new TextRangeDto(openedAt, text.Length - openedAt));
                }

                openedAt = -1;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (text.Length > 0 && text[^1] != ' ')
                {
                    text.Append(' ');
                }
            }
            else
            {
                text.Append(c);
            }
        }

        return (text.ToString(), highlights);
    }

    /// <summary>A result row as both databases' search reads it.</summary>
    internal sealed class HitRow
    {
        public Guid ChatId { get; init; }

        public string Title { get; init; } = "";

        public Guid? MessageId { get; init; }

        public string? Role { get; init; }

        public double Rank { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public string? Marked { get; init; }

        public SearchHitDto ToDto()
        {
            var (snippet, highlights) = Read(Marked);
            return new SearchHitDto(ChatId, Title, MessageId, Role, snippet, highlights, Rank, CreatedAt);
        }
    }
}
