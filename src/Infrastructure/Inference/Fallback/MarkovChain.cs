namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>
/// An order-2 word Markov chain: each pair of consecutive words remembers which words followed it and how often.
/// Words keep the punctuation attached to them, so sentences come out punctuated. Learning and generating are
/// serialised by one lock, so the chain can learn on one thread while others generate. Output depends only on what
/// was learned (and in which order) and on the <see cref="Random"/> passed in, so a seeded generator repeats itself.
/// Memory is bounded: once <c>maxStates</c> word pairs are known, new pairs are ignored.
/// </summary>
public sealed class MarkovChain
{
    public const int DefaultMaxStates = 200_000;

    public const int DefaultMaxWords = 60;

    /// <summary>A reply does not stop at a sentence end before it has this many words.</summary>
    public const int MinWords = 5;

    private const int StartId = 0;
    private const int EndId = 1;
    private const int MaxTokenLength = 64;
    private const int MaxStatesPerKeyword = 64;

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "the", "and", "but", "for", "you", "your", "are", "was", "were", "this", "that", "with", "have", "has",
        "what", "when", "where", "which", "who", "why", "how", "can", "could", "would", "should", "will", "not",
        "any", "all", "its", "it's", "from", "into", "about", "there", "their", "they", "them", "then", "than",
        "just", "some", "also", "our", "out", "get", "got", "did", "does", "don't", "i'm", "let", "may",
        "please", "thanks", "thank", "hello", "tell", "explain",
    };

    private readonly Lock _gate = new();
    private readonly List<string> _words = ["<s>", "</s>"];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<(int First, int Second), Followers> _states = [];

    /// <summary>For each keyword, how often it was learned and some states whose second word it is.</summary>
    private readonly Dictionary<string, KeywordStarts> _keywords = new(StringComparer.Ordinal);

    private readonly int _maxStates;
    private readonly int _maxTransitions;
    private int _transitions;

    public MarkovChain(int maxStates = DefaultMaxStates)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxStates, 1);
        _maxStates = maxStates;
        _maxTransitions = maxStates * 4;
    }

    /// <summary>How many word pairs are known.</summary>
    public int StateCount
    {
        get
        {
            lock (_gate)
            {
                return _states.Count;
            }
        }
    }

    /// <summary>Adds the sentences of <paramref name="text"/>. A sentence ends at '.', '!' or '?' or at a line end.</summary>
    public void Learn(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sentences = Tokenize(text);
        if (sentences.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var sentence in sentences)
            {
                LearnSentence(sentence);
            }
        }
    }

    /// <summary>
    /// A reply of at most <paramref name="maxWords"/> words. It starts, when it can, from a word pair that ends in a
    /// keyword of <paramref name="prompt"/>, otherwise from the start of a learned sentence; it stops at the first
    /// sentence end after <see cref="MinWords"/> words. Empty only when nothing was learned.
    /// </summary>
    public string Generate(string prompt, Random random, int maxWords = DefaultMaxWords)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWords, 1);

        var keywords = Keywords(prompt);
        lock (_gate)
        {
            if (_states.Count == 0)
            {
                return string.Empty;
            }

            var output = new List<string>();
            var (first, second) = ChooseStart(keywords, random);
            if (first != StartId)
            {
                output.Add(_words[first]);
            }

            if (second != StartId)
            {
                output.Add(_words[second]);
            }

            // Each step either adds a word or restarts a sentence, and a restart always adds a word next: bounded.
            var steps = 0;
            while (output.Count < maxWords && steps++ < maxWords * 4)
            {
                var next = _states.TryGetValue((first, second), out var followers) && followers.Total > 0
                    ? followers.Pick(random)
                    : EndId;
                if (next == EndId)
                {
                    if (output.Count >= Math.Min(MinWords, maxWords))
                    {
                        break;
                    }

                    (first, second) = (StartId, StartId);
                    continue;
                }

                output.Add(_words[next]);
                (first, second) = (second, next);
            }

            // A start from a keyword pair puts two words in at once.
            if (output.Count > maxWords)
            {
                output.RemoveRange(maxWords, output.Count - maxWords);
            }

            return Compose(output);
        }
    }

    private static List<List<string>> Tokenize(string text)
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
    private static string Normalize(string token)
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

    private static bool IsKeyword(string normalized) => normalized.Length >= 3 && !StopWords.Contains(normalized);

    private static List<string> Keywords(string prompt)
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

    private static string Compose(List<string> words)
    {
        if (words.Count == 0)
        {
            return string.Empty;
        }

        var text = string.Join(' ', words);
        text = char.ToUpperInvariant(text[0]) + text[1..];
        return EndsSentence(words[^1]) ? text : text.TrimEnd(',', ';', ':', '-') + "…";
    }

    /// <summary>
    /// A pair ending in the prompt's most specific keyword (the one learned least often, so "walrus" wins over
    /// "lizard"), or the start of a sentence when no keyword was learned.
    /// </summary>
    private (int First, int Second) ChooseStart(List<string> keywords, Random random)
    {
        var rarest = new List<KeywordStarts>();
        foreach (var keyword in keywords)
        {
            if (!_keywords.TryGetValue(keyword, out var starts) || starts.States.Count == 0)
            {
                continue;
            }

            if (rarest.Count > 0 && starts.Seen < rarest[0].Seen)
            {
                rarest.Clear();
            }

            if (rarest.Count == 0 || starts.Seen == rarest[0].Seen)
            {
                rarest.Add(starts);
            }
        }

        if (rarest.Count == 0)
        {
            return (StartId, StartId);
        }

        var chosen = rarest[random.Next(rarest.Count)].States;
        return chosen[random.Next(chosen.Count)];
    }

    private void LearnSentence(List<string> sentence)
    {
        var (first, second) = (StartId, StartId);
        for (var i = 0; i <= sentence.Count; i++)
        {
            int next;
            if (i == sentence.Count)
            {
                next = EndId;
            }
            else if (!TryIntern(sentence[i], out next))
            {
                return;
            }

            if (!TryRecord(first, second, next))
            {
                return;
            }

            if (next != EndId && KeywordOf(next) is { } keyword)
            {
                keyword.Seen++;
            }

            (first, second) = (second, next);
        }
    }

    private bool TryIntern(string word, out int id)
    {
        if (_ids.TryGetValue(word, out id))
        {
            return true;
        }

        // Every word belongs to at least one state, so the vocabulary needs no larger cap than the states.
        if (_words.Count >= _maxStates + 2)
        {
            return false;
        }

        id = _words.Count;
        _words.Add(word);
        _ids.Add(word, id);
        return true;
    }

    private bool TryRecord(int first, int second, int next)
    {
        if (!_states.TryGetValue((first, second), out var followers))
        {
            if (_states.Count >= _maxStates || _transitions >= _maxTransitions)
            {
                return false;
            }

            followers = new Followers();
            _states.Add((first, second), followers);
            IndexKeyword(first, second);
        }

        var added = followers.Add(next, allowNew: _transitions < _maxTransitions);
        if (added is null)
        {
            return false;
        }

        if (added.Value)
        {
            _transitions++;
        }

        return true;
    }

    private void IndexKeyword(int first, int second)
    {
        if (second != StartId && KeywordOf(second) is { } keyword && keyword.States.Count < MaxStatesPerKeyword)
        {
            keyword.States.Add((first, second));
        }
    }

    /// <summary>The keyword entry of a learned word, created on first use; null when the word is no keyword.</summary>
    private KeywordStarts? KeywordOf(int word)
    {
        var normalized = Normalize(_words[word]);
        if (!IsKeyword(normalized))
        {
            return null;
        }

        if (!_keywords.TryGetValue(normalized, out var keyword))
        {
            keyword = new KeywordStarts();
            _keywords.Add(normalized, keyword);
        }

        return keyword;
    }

    private sealed class KeywordStarts
    {
        public List<(int First, int Second)> States { get; } = [];

        public int Seen { get; set; }
    }

    /// <summary>The words seen after one pair, with counts, in the order first seen (so picks are reproducible).</summary>
    private sealed class Followers
    {
        private const int IndexThreshold = 8;

        private readonly List<int> _next = [];
        private readonly List<int> _counts = [];
        private Dictionary<int, int>? _index;

        public int Total { get; private set; }

        /// <summary>True when <paramref name="next"/> is new here, false when counted again, null when refused.</summary>
        public bool? Add(int next, bool allowNew)
        {
            var position = Find(next);
            if (position >= 0)
            {
                _counts[position]++;
                Total++;
                return false;
            }

            if (!allowNew)
            {
                return null;
            }

            _next.Add(next);
            _counts.Add(1);
            Total++;
            if (_index is not null)
            {
                _index.Add(next, _next.Count - 1);
            }
            else if (_next.Count > IndexThreshold)
            {
                _index = [];
                for (var i = 0; i < _next.Count; i++)
                {
                    _index.Add(_next[i], i);
                }
            }

            return true;
        }

        public int Pick(Random random)
        {
            var target = random.Next(Total);
            for (var i = 0; i < _next.Count; i++)
            {
                target -= _counts[i];
                if (target < 0)
                {
                    return _next[i];
                }
            }

            return _next[^1];
        }

        private int Find(int next)
        {
            if (_index is not null)
            {
                return _index.TryGetValue(next, out var position) ? position : -1;
            }

            return _next.IndexOf(next);
        }
    }
}
