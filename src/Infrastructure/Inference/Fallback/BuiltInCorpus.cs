namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>The friendly sentences shipped in <c>Inference/Markov/corpus.txt</c> that the fallback starts from.</summary>
internal static class BuiltInCorpus
{
    private const string ResourceName = "MeatLizard.Infrastructure.Inference.Markov.corpus.txt";

    private static readonly Lazy<IReadOnlyList<string>> Cached = new(Load);

    public static IReadOnlyList<string> Sentences => Cached.Value;

    private static IReadOnlyList<string> Load()
    {
        using var stream = typeof(BuiltInCorpus).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{ResourceName}' is missing from the build.");
        using var reader = new StreamReader(stream);
        var sentences = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            line = line.Trim();
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                sentences.Add(line);
            }
        }

        return sentences;
    }
}
