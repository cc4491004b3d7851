using System.Text;

namespace MeatLizard.Application.Search;

/// <summary>
/// What a search looks for: the words of the text a person typed, each a run of letters, digits and combining marks.
/// Everything else (quotes, <c>*</c>, <c>-</c>, <c>:</c>, parentheses, operators like <c>NEAR</c> or <c>OR</c> as
/// written) only separates words, so no text can reach a database's query syntax: the indexes split stored text the
/// same way, and a message is found when it holds every word.
/// </summary>
public sealed class SearchWords
{
    /// <summary>More words than this narrow a search no further in practice; the rest are left out.</summary>
    public const int MaxWords = 16;

    private SearchWords(IReadOnlyList<string> words) => Words = words;

    public IReadOnlyList<string> Words { get; }

    public bool IsEmpty => Words.Count == 0;

    public static SearchWords From(string? text)
    {
        text ??= "";
        var words = new List<string>();
        foreach (var (start, end) in Spans(text))
        {
            var word = text[start..end].ToLowerInvariant();
            if (words.Count < MaxWords && !words.Contains(word, StringComparer.Ordinal))
            {
                words.Add(word);
            }
        }

        return new SearchWords(words);
    }

    /// <summary>Where the words of <paramref name="text"/> stand in it (UTF-16 offsets, end exclusive).</summary>
    public static IReadOnlyList<(int Start, int End)> Spans(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var spans = new List<(int Start, int End)>();
        var start = -1;
        var at = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsWordPart(rune))
            {
                start = start < 0 ? at : start;
            }
            else if (start >= 0)
            {
                spans.Add((start, at));
                start = -1;
            }

            at += rune.Utf16SequenceLength;
        }

        if (start >= 0)
        {
            spans.Add((start, at));
        }

        return spans;
    }

    private static bool IsWordPart(Rune rune) =>
        Rune.IsLetterOrDigit(rune)
        || Rune.GetUnicodeCategory(rune) is System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark;

    public override string ToString() => string.Join(' ', Words);
}
