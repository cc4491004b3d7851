namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>A keyword of the chain: how often it was learned and some word pairs that end in it.</summary>
internal sealed class MarkovKeywordStarts
{
    public List<(int First, int Second)> States { get; } = [];

    public int Seen { get; set; }
}
