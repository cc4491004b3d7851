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
    private const int MaxStatesPerKeyword = 64;

    private readonly Lock _gate = new();
    private readonly List<string> _words = ["<s>", "</s>"];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<(int First, int Second), MarkovFollowers> _states = [];

    /// <summary>For each keyword, how often it was learned and some states whose second word it is.</summary>
    private readonly Dictionary<string, MarkovKeywordStarts> _keywords = new(StringComparer.Ordinal);

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
        var sentences = MarkovText.Sentences(text);
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

        var keywords = MarkovText.Keywords(prompt);
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

            return MarkovText.Compose(output);
        }
    }

    /// <summary>
    /// A pair ending in the prompt's most specific keyword (the one learned least often, so "walrus" wins over
    /// "lizard"), or the start of a sentence when no keyword was learned.
    /// </summary>
    private (int First, int Second) ChooseStart(List<string> keywords, Random random)
    {
        var rarest = new List<MarkovKeywordStarts>();
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

            followers = new MarkovFollowers();
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
    private MarkovKeywordStarts? KeywordOf(int word)
    {
        var normalized = MarkovText.Normalize(_words[word]);
        if (!MarkovText.IsKeyword(normalized))
        {
            return null;
        }

        if (!_keywords.TryGetValue(normalized, out var keyword))
        {
            keyword = new MarkovKeywordStarts();
            _keywords.Add(normalized, keyword);
        }

        return keyword;
    }
}
