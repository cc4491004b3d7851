using System.Text;

namespace MeatLizard.Bench.Search;

/// <summary>One stored message as the benchmark writes it.</summary>
internal sealed record BenchMessage(Guid Id, Guid ChatId, bool FromUser, string Content, DateTimeOffset CreatedAt);

/// <summary>
/// Text of a synthetic vocabulary (made-up words of two to four syllables) drawn with Zipf's law (a word's frequency
/// falls as 1/rank), the same for every run of a seed; remembers in how many messages each word stands.
/// </summary>
internal sealed class Corpus(int seed)
{
    private const int Vocabulary = 30_000;

    private static readonly string[] Syllables =
        [.. from c in "bdfgklmnprstvz" from v in new[] { "a", "e", "i", "o", "u", "ai", "ou" } select $"{c}{v}"];

    private readonly Random _random = new(seed);
    private readonly double[] _cumulative = Cumulative();
    private readonly int[] _messagesWith = new int[Vocabulary];

    /// <summary>The word of rank <paramref name="rank"/> (0 the most frequent).</summary>
    public string Word(int rank)
    {
        // Bijective base-98 over the syllables, two syllables at least: every rank its own word.
        var word = new StringBuilder();
        var n = rank + Syllables.Length;
        while (n > 0)
        {
            n--;
            word.Insert(0, Syllables[n % Syllables.Length]);
            n /= Syllables.Length;
        }

        return word.ToString();
    }

    /// <summary>A rank drawn with Zipf's law.</summary>
    public int Sample()
    {
        var at = Array.BinarySearch(_cumulative, _random.NextDouble() * _cumulative[^1]);
        return Math.Min(at < 0 ? ~at : at, Vocabulary - 1);
    }

    /// <summary><paramref name="count"/> messages spread over the chats in turn, questions and answers alternating,
    /// a second apart, of 8 to 80 words with now and then a comma or a full stop.</summary>
    public IEnumerable<BenchMessage> Messages(IReadOnlyList<Guid> chats, int count)
    {
        var start = DateTimeOffset.UtcNow.AddSeconds(-count);
        for (var i = 0; i < count; i++)
        {
            var length = _random.Next(8, 81);
            var text = new StringBuilder();
            var seen = new HashSet<int>();
            for (var w = 0; w < length; w++)
            {
                var rank = Sample();
                if (seen.Add(rank))
                {
                    _messagesWith[rank]++;
                }

                text.Append(w == 0 ? "" : _random.Next(12) == 0 ? ". " : _random.Next(10) == 0 ? ", " : " ").Append(Word(rank));
            }

            yield return new BenchMessage(Guid.NewGuid(), chats[i % chats.Count], i % 2 == 0, text.Append('.').ToString(),
                start.AddSeconds(i));
        }
    }

    /// <summary>Words held by between <paramref name="min"/> and <paramref name="max"/> messages, in a shuffled order.</summary>
    public IEnumerable<string> WordsMatching(int min, int max, int count)
    {
        var ranks = Enumerable.Range(0, Vocabulary).Where(r => _messagesWith[r] >= min && _messagesWith[r] <= max).ToArray();
        var order = new Random(seed + min);
        order.Shuffle(ranks);
        return ranks.Take(count).Select(Word);
    }

    private static double[] Cumulative()
    {
        var cumulative = new double[Vocabulary];
        var sum = 0.0;
        for (var r = 0; r < Vocabulary; r++)
        {
            sum += 1.0 / (r + 1);
            cumulative[r] = sum;
        }

        return cumulative;
    }
}
