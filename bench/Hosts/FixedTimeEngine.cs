using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Bench.Hosts;

/// <summary>
/// A model host's engine that takes a fixed time per answer (four pieces over <see cref="AnswerTime"/>, the answer time it is made with unless changed) and says it
/// has <see cref="Slots"/> slots, so a host's capacity is known exactly: slots ÷ answer time. It counts the most
/// answers it ever ran at once, which must never exceed its slots (the server keeps the queue).
/// </summary>
internal sealed class FixedTimeEngine(TimeSpan answerTime, int slots, string model) : IInferenceEngine
{
    private const int Pieces = 4;
    private long _answerTicks = answerTime.Ticks;
    private int _running;
    private int _mostAtOnce;

    public string Name => "FixedTime";

    /// <summary>How long each answer takes from now on (the waiting-time run slows the engine down).</summary>
    public TimeSpan AnswerTime
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _answerTicks));
        set => Interlocked.Exchange(ref _answerTicks, value.Ticks);
    }

    public int Slots => slots;

    public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new EngineHealth(true, null, Slots: slots, Models: [model]));

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var running = Interlocked.Increment(ref _running);
        try
        {
            for (var seen = _mostAtOnce; running > seen; seen = _mostAtOnce)
            {
                Interlocked.CompareExchange(ref _mostAtOnce, running, seen);
            }

            var piecesTake = AnswerTime / Pieces;
            for (var piece = 0; piece < Pieces; piece++)
            {
                await Task.Delay(piecesTake, cancellationToken);
                yield return new InferenceDelta(piece == 0 ? "An answer" : " more", 2);
            }

            yield return new InferenceCompleted(request.Turns.Count, Pieces * 2, "stop");
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
