using System.Text;

namespace MeatLizard.Application.Search;

/// <summary>
/// The part of a matched text a result shows: the stretch of <see cref="MaxWords"/> words that holds the most of the
/// words searched for, with each of them marked. Made here rather than by each database, so both show the same
/// snippet, and so text the databases' parsers read as markup (PostgreSQL drops HTML tags from its headlines) is shown
/// as it was written.
/// </summary>
public static class Snippets
{
    public const int MaxWords = 24;

    /// <summary>Words shown before the first match, when the text is longer than a snippet.</summary>
    private const int Lead = 4;

    private const string Ellipsis = "…";

    public static (string Text, IReadOnlyList<TextRangeDto> Highlights) Make(string text, SearchWords words)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(words);
        var tokens = SearchWords.Spans(text);
        if (tokens.Count == 0)
        {
            return (Collapse(text.Trim()), []);
        }

        var matched = tokens.Select(t => words.Words.Contains(text[t.Start..t.End].ToLowerInvariant(), StringComparer.Ordinal))
            .ToArray();
        var first = Best(text, tokens, matched, words);
        var last = Math.Min(tokens.Count, first + MaxWords) - 1;

        var snippet = new StringBuilder();
        var highlights = new List<TextRangeDto>();
        // What comes before the first word (a quote, a tag's "<") starts a snippet that starts the text.
        snippet.Append(first > 0 ? Ellipsis : Collapse(text[..tokens[0].Start]).TrimStart());

        for (var i = first; i <= last; i++)
        {
            if (i > first)
            {
                snippet.Append(Collapse(text[tokens[i - 1].End..tokens[i].Start]));
            }

            if (matched[i])
            {
                highlights.Add(new TextRangeDto(snippet.Length, tokens[i].End - tokens[i].Start));
            }

            snippet.Append(text, tokens[i].Start, tokens[i].End - tokens[i].Start);
        }

        // What follows the last word up to the next one (a full stop, a question mark) ends the snippet.
        var tail = last + 1 < tokens.Count ? text[tokens[last].End..tokens[last + 1].Start] : text[tokens[last].End..];
        snippet.Append(Collapse(tail).TrimEnd());
        if (last + 1 < tokens.Count)
        {
            snippet.Append(Ellipsis);
        }

        return (snippet.ToString(), highlights);
    }

    /// <summary>The first word of the window holding the most distinct words searched for (the earliest of equals).</summary>
    private static int Best(string text, IReadOnlyList<(int Start, int End)> tokens, bool[] matched, SearchWords words)
    {
        if (tokens.Count <= MaxWords)
        {
            return 0;
        }

        var best = -1;
        var bestCount = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (!matched[i])
            {
                continue;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var j = i; j < Math.Min(tokens.Count, i + MaxWords - Lead); j++)
            {
                if (matched[j])
                {
                    seen.Add(text[tokens[j].Start..tokens[j].End].ToLowerInvariant());
                }
            }

            if (seen.Count > bestCount)
            {
                (best, bestCount) = (i, seen.Count);
                if (bestCount == words.Words.Count)
                {
                    break;
                }
            }
        }

        return best < 0 ? 0 : Math.Clamp(best - Lead, 0, tokens.Count - MaxWords);
    }

    /// <summary>Runs of white space as one space: a snippet is read on one line.</summary>
    private static string Collapse(string text)
    {
        var collapsed = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (!char.IsWhiteSpace(c))
            {
                collapsed.Append(c);
            }
            else if (collapsed.Length == 0 || collapsed[^1] != ' ')
            {
                collapsed.Append(' ');
            }
        }

        return collapsed.ToString();
    }
}
