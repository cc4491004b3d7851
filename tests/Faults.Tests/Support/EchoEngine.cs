using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Faults.Tests.Support;

/// <summary>
/// The in-process client bot's engine for faults that do not concern llama.cpp: answers "Echo: PROMPT" word by word,
/// 100 ms apart (so a fault lands mid-answer). With <see cref="ControlCharacters"/> set it is a broken model: every
/// piece comes wrapped in NUL and other C0 controls, and some carry half of a surrogate pair.
/// </summary>
public sealed class EchoEngine : IInferenceEngine
{
    public string Name => "Echo";

    public bool ControlCharacters { get; set; }

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult(new EngineHealth(true, null));

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var words = $"Echo: {request.Turns[^1].Content}".Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            if (i > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }

            var piece = i == 0 ? words[i] : " " + words[i];
            if (ControlCharacters)
            {
                piece = $"\0{piece}\u0007\u001b" + (i % 3 == 0 ? "\uD800" : "");
            }

            yield return new InferenceDelta(piece, 1);
        }

        yield return new InferenceCompleted(3, words.Length, "stop");
    }
}
