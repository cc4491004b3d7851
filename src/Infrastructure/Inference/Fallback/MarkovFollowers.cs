namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>The words seen after one pair, with counts, in the order first seen (so picks are reproducible).</summary>
internal sealed class MarkovFollowers
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
