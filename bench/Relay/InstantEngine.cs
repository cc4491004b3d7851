using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Bench.Relay;

/// <summary>
/// An engine that answers at once with a fixed short reply: what remains is the platform's own cost. Asked with tools,
/// it answers one call of the first tool instead (<see cref="Call"/>), as a model that calls a function does.
/// </summary>
public sealed class InstantEngine : IInferenceEngine
{
    /// <summary>The answer, piece by piece (the OpenAI benchmark's instant upstream streams the same).</summary>
    public static readonly IReadOnlyList<string> Pieces = ["The", " answer", " is", " forty", "-two", "."];

    /// <summary>The call answered to a request with tools (the instant upstream answers the same).</summary>
    public static readonly Domain.Messages.ToolCall Call =
        Domain.Messages.ToolCall.Create("call_instant", "get_answer", """{"question":"life"}""");

    public string Name => "Instant";

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new EngineHealth(true, null) { TakesTools = true });

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask;
        if (request.Extras?.Tools is not null)
        {
            yield return new InferenceCompleted(request.Turns.Count, 8, "tool_calls") { ToolCalls = [Call] };
            yield break;
        }

        foreach (var word in Pieces)
        {
            yield return new InferenceDelta(word, 1);
        }

        yield return new InferenceCompleted(request.Turns.Count, Pieces.Count, "stop");
    }
}
