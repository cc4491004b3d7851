using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Bench.Hosts;

/// <summary>
/// A model host's engine that takes a fixed time per answer (four pieces over <see cref="AnswerTime"/>) and says it
/// has <see cref="Slots"/> slots, so a host's capacity is known exactly: slots ÷ answer time. It counts the most
/// answers it ever ran at once, which must never exceed its slots (the server keeps the queue).
/// </summary>
internal sealed class FixedTimeEngine(TimeSpan answerTime, int slots, string model) : IInferenceEngine
{
    private const int Pieces = 4;
    private int _running;
    private int _mostAtOnce;

    public string Name => "FixedTime";

    public TimeSpan AnswerTime => answerTime;

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

            for (var piece = 0; piece < Pieces; piece++)
            {
                await Task.Delay(answerTime / Pieces, cancellationToken);
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
