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
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (var rune in (text ?? "").EnumerateRunes())
        {
            if (IsWordPart(rune))
            {
                word.Append(rune.ToString());
                continue;
            }

            Add(words, word);
        }

        Add(words, word);
        return new SearchWords(words);
    }

    private static bool IsWordPart(Rune rune) =>
        Rune.IsLetterOrDigit(rune)
        || Rune.GetUnicodeCategory(rune) is System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark;

    private static void Add(List<string> words, StringBuilder word)
    {
        if (word.Length == 0)
        {
            return;
        }

        var text = word.ToString().ToLowerInvariant();
        word.Clear();
        if (words.Count < MaxWords && !words.Contains(text, StringComparer.Ordinal))
        {
            words.Add(text);
        }
    }

    public override string ToString() => string.Join(' ', Words);
}
