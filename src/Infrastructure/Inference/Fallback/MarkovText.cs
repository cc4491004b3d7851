namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>
/// The words of the Markov fallback: text split into sentences of words (punctuation kept, fenced code skipped), the
/// keywords of a prompt, and a reply's words joined into a sentence.
/// </summary>
internal static class MarkovText
{
    private const int MaxTokenLength = 64;

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "the", "and", "but", "for", "you", "your", "are", "was", "were", "this", "that", "with", "have", "has",
        "what", "when", "where", "which", "who", "why", "how", "can", "could", "would", "should", "will", "not",
        "any", "all", "its", "it's", "from", "into", "about", "there", "their", "they", "them", "then", "than",
        "just", "some", "also", "our", "out", "get", "got", "did", "does", "don't", "i'm", "let", "may",
        "please", "thanks", "thank", "hello", "tell", "explain",
    };

    /// <summary>The sentences of <paramref name="text"/>, each a list of words; a sentence ends at ., ! or ? or a line end.</summary>
    public static List<List<string>> Sentences(string text)
    {
        var sentences = new List<List<string>>();
        var inCode = false;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();

            // Code does not read well in a chat reply; skip fenced blocks.
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inCode = !inCode;
                continue;
            }

            if (inCode || line.Length == 0)
            {
                continue;
            }

            var sentence = new List<string>();
            foreach (var token in line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            {
                if (token.Length > MaxTokenLength)
                {
                    continue;
                }

                sentence.Add(token);
                if (EndsSentence(token))
                {
                    sentences.Add(sentence);
                    sentence = [];
                }
            }

            if (sentence.Count > 0)
            {
                sentences.Add(sentence);
            }
        }

        return sentences;
    }

    private static bool EndsSentence(string token)
    {
        var trimmed = token.TrimEnd('"', '\'', ')', ']', '*', '_');
        return trimmed.Length > 0 && trimmed[^1] is '.' or '!' or '?';
    }

    /// <summary>Lower case, without the punctuation around it: how prompt words and learned words are compared.</summary>
    public static string Normalize(string token)
    {
        var start = 0;
        var end = token.Length;
        while (start < end && !char.IsLetterOrDigit(token[start]))
        {
            start++;
        }

        while (end > start && !char.IsLetterOrDigit(token[end - 1]))
        {
            end--;
        }

        return token[start..end].ToLowerInvariant();
    }

    public static bool IsKeyword(string normalized) => normalized.Length >= 3 && !StopWords.Contains(normalized);

    public static List<string> Keywords(string prompt)
    {
        var keywords = new List<string>();
        foreach (var token in prompt.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var word = Normalize(token);
            if (IsKeyword(word) && !keywords.Contains(word))
            {
                keywords.Add(word);
            }
        }

        return keywords;
    }

    public static string Compose(List<string> words)
    {
        if (words.Count == 0)
        {
            return string.Empty;
        }

        var text = string.Join(' ', words);
        text = char.ToUpperInvariant(text[0]) + text[1..];
        return EndsSentence(words[^1]) ? text : text.TrimEnd(',', ';', ':', '-') + "…";
    }
}
