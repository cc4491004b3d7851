using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Bench.Relay;

/// <summary>An engine that answers at once with a fixed short reply: what remains is the platform's own cost.</summary>
public sealed class InstantEngine : IInferenceEngine
{
    /// <summary>The answer, piece by piece (the OpenAI benchmark's instant upstream streams the same).</summary>
    public static readonly IReadOnlyList<string> Pieces = ["The", " answer", " is", " forty", "-two", "."];

    public string Name => "Instant";

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new EngineHealth(true, null));

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var word in Pieces)
        {
            yield return new InferenceDelta(word, 1);
        }

        await Task.CompletedTask;
        yield return new InferenceCompleted(request.Turns.Count, Pieces.Count, "stop");
    }
}
