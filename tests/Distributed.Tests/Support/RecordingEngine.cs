using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Distributed.Tests.Support;

/// <summary>
/// The client bot's engine: answers "Echo: PROMPT" word by word, 25 ms apart (or a long reply while
/// <see cref="LongReplies"/> is set, slowly), and records how often each prompt was asked and how many generations were cancelled.
/// </summary>
public sealed class RecordingEngine : IInferenceEngine
{
    public const string LongReply =
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen " +
        "eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven";

    private readonly ConcurrentDictionary<string, int> _asked = new();
    private int _cancelled;

    public string Name => "Recording";

    /// <summary>While set, every answer is <see cref="LongReply"/>, one word per 200 ms.</summary>
    public bool LongReplies { get; set; }

    public int Cancelled => Volatile.Read(ref _cancelled);

    public int TimesAsked(string prompt) => _asked.GetValueOrDefault(prompt);

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult(new EngineHealth(true, null));

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prompt = request.Turns[^1].Content;
        _asked.AddOrUpdate(prompt, 1, (_, n) => n + 1);
        var slow = LongReplies;
        var words = (slow ? LongReply : $"Echo: {prompt}").Split(' ');
        try
        {
            for (var i = 0; i < words.Length; i++)
            {
                if (slow)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
                }
                else if (i > 0)
                {
                    // Like a model's tokens: the worker sends the first piece while the engine waits for the next.
                    await Task.Delay(TimeSpan.FromMilliseconds(25), cancellationToken);
                }

                yield return new InferenceDelta(i == 0 ? words[i] : " " + words[i], 1);
            }
        }
        finally
        {
            // Counted where the engine sees it: a token registration could be disposed by the cancellation it waits for.
            if (cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _cancelled);
            }
        }

        yield return new InferenceCompleted(3, words.Length, "stop");
    }
}
