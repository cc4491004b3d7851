using System.Diagnostics;
using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// A test engine that answers from a script: the reply's words as deltas with an optional pause between them, or a
/// failure, or silence (to exercise timeouts). It records what it was asked.
/// </summary>
public sealed class ScriptedInferenceEngine : IInferenceEngine
{
    private readonly List<InferenceRequest> _requests = [];

    public string Name => "Scripted";

    /// <summary>Builds the reply for a request; by default it echoes the last user turn.</summary>
    public Func<InferenceRequest, string> Reply { get; set; } = r => $"You said: {r.Turns[^1].Content}";

    public TimeSpan DelayBetweenTokens { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Why it says it stopped; null (the default): as a real engine, <c>length</c> when it wrote at least the tokens
    /// asked for, else <c>stop</c>.
    /// </summary>
    public string? FinishReason { get; set; }

    /// <summary>When set, generation throws <see cref="InferenceFailedException"/> with this message.</summary>
    public string? FailWith { get; set; }

    /// <summary>
    /// When set, the next generation loses the engine after this many words (as llama-server dying mid-answer:
    /// <see cref="InferenceFailedException.EngineLost"/>); the generation after it answers normally.
    /// </summary>
    public int? LoseEngineAfterWords { get; set; }

    /// <summary>When true, the engine never produces anything (until cancelled).</summary>
    public bool Hang { get; set; }

    public bool Ready { get; set; } = true;

    /// <summary>Wall-clock time (Unix ms) at which the latest reply's first piece left the engine.</summary>
    public double? LastFirstPieceAt { get; private set; }

    public int Cancellations => _cancellations;

    public IReadOnlyList<InferenceRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToList();
            }
        }
    }

    private int _cancellations;

    private readonly Dictionary<Guid, string?> _traceIds = [];

    /// <summary>The trace id current on the worker when it was asked for the request's answer (null: none).</summary>
    public string? TraceIdOf(Guid requestId)
    {
        lock (_requests)
        {
            return _traceIds.GetValueOrDefault(requestId);
        }
    }

    /// <summary>How many requests it says it answers at once; null (the default): it does not say.</summary>
    public int? Slots { get; set; }

    public Task<EngineHealth> CheckHealthAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new EngineHealth(Ready, Ready ? null : "not ready", Slots: Slots));

    public async IAsyncEnumerable<InferenceUpdate> GenerateAsync(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        lock (_requests)
        {
            _requests.Add(request);
            _traceIds[request.RequestId] = Activity.Current?.TraceId.ToHexString();
        }

        // Counted where the engine sees it; a registration on the token could be disposed (the iterator finished
        // by the cancellation itself) before the token got round to calling it.
        var updates = Generate(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (updates)
        {
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _cancellations);
                    throw;
                }

                yield return updates.Current;
            }
        }
    }

    private async IAsyncEnumerable<InferenceUpdate> Generate(
        InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Hang)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (FailWith is { } failure)
        {
            throw new InferenceFailedException(failure);
        }

        var words = Reply(request).Split(' ');
        var loseAfter = LoseEngineAfterWords;
        LoseEngineAfterWords = null;
        for (var i = 0; i < words.Length; i++)
        {
            if (i == loseAfter)
            {
                throw new InferenceFailedException("the scripted engine's process died") { EngineLost = true };
            }

            if (DelayBetweenTokens > TimeSpan.Zero)
            {
                await Task.Delay(DelayBetweenTokens, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (i == 0)
            {
                LastFirstPieceAt = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalMilliseconds;
            }

            yield return new InferenceDelta(i == 0 ? words[i] : " " + words[i], 1);
        }

        yield return new InferenceCompleted(request.Turns.Sum(t => t.Content.Length / 4 + 1), words.Length,
            FinishReason ?? (request.MaxTokens is { } max && words.Length >= max ? "length" : "stop"));
    }
}
