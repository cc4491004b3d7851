using System.Diagnostics;
using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Inference;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Inference;

/// <summary>
/// One job's answer on its way from the engine to the server: the first piece at once (time to first token matters) —
/// with whatever else the engine already has ready, so an engine that finishes without waiting sends its final alone —
/// then what accumulated about every <see cref="RelayOptions.PartialInterval"/>. The first envelope sent acknowledges
/// the request; when the engine has nothing within <see cref="RelayOptions.AckDelay"/>, a plain ack goes first. The
/// final (sent by the job) carries the whole answer, so text still waiting when the engine finishes goes with it.
/// </summary>
internal sealed partial class JobAnswer(
    JobEnvelopes envelopes, InferenceRequest request, int firstSeq, RelayOptions options, IClock clock, ILogger logger)
{
    /// <summary>How long a job that stops waits for the engine to end a read it has under way.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(10);

    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _content = new();
    private long _lastFlush = Stopwatch.GetTimestamp();
    private bool _acknowledged;

    /// <summary>The number of the job's next envelope (its first is <c>firstSeq</c>, the ack's).</summary>
    public int NextSeq { get; private set; } = firstSeq + 1;

    /// <summary>All the answer's text so far.</summary>
    public string Content => _content.ToString();

    /// <summary>Streams the engine's answer to the server; returns its completion (null when the engine sent none).</summary>
    public async Task<InferenceCompleted?> StreamAsync(IInferenceEngine engine, InferenceJob job, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        InferenceCompleted? completed = null;
        // The engine's own token: cancelled to end a read still pending when the job stops (see CloseAsync).
        using var generation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var updates = engine.GenerateAsync(request, generation.Token).GetAsyncEnumerator(generation.Token);
        Task<bool>? next = null;
        try
        {
            while (true)
            {
                next ??= updates.MoveNextAsync().AsTask();
                if (!_acknowledged && !next.IsCompleted)
                {
                    var ackIn = options.AckDelay - Stopwatch.GetElapsedTime(started);
                    if (ackIn <= TimeSpan.Zero || await Task.WhenAny(next, Task.Delay(ackIn, cancellationToken)) != next)
                    {
                        await envelopes.AckAsync(request, firstSeq, cancellationToken);
                        _acknowledged = true;
                    }
                }

                if (_pending.Length > 0)
                {
                    var wait = options.PartialInterval - Stopwatch.GetElapsedTime(_lastFlush);
                    if (wait > TimeSpan.Zero && await Task.WhenAny(next, Task.Delay(wait, cancellationToken)) == next)
                    {
                        // An update arrived before the flush was due: take it first.
                    }
                    else
                    {
                        await FlushAsync(cancellationToken);
                        continue;
                    }
                }

                if (!await next)
                {
                    return completed;
                }

                next = null;
                switch (updates.Current)
                {
                    case InferenceDelta delta:
                        job.RecordOutput(delta.Tokens, clock.UtcNow);
                        _pending.Append(delta.Text);
                        _content.Append(delta.Text);
                        if (NextSeq == firstSeq + 1)
                        {
                            // The first piece goes at once, unless the engine has more ready this instant: then it takes
                            // that too, and an answer finished without waiting goes as the final alone (one envelope
                            // less).
                            next = updates.MoveNextAsync().AsTask();
                            if (!next.IsCompleted)
                            {
                                await FlushAsync(cancellationToken);
                                _acknowledged = true;
                            }
                        }

                        break;
                    case InferenceCompleted done:
                        completed = done;
                        break;
                }
            }
        }
        finally
        {
            await CloseAsync(updates, next, generation);
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var text = _pending.ToString();
        _pending.Clear();
        _lastFlush = Stopwatch.GetTimestamp();
        await envelopes.PartialAsync(request, NextSeq++, text, cancellationToken);
    }

    /// <summary>
    /// Closes the engine's stream once no read is pending on it. An async iterator disposed while a read is pending
    /// throws NotSupportedException and skips its clean-up; when that read then yields, the iterator waits at the yield
    /// for good, holding what it holds (llama-server: a slot and the HTTP stream, whose generation runs on). A job that
    /// stopped mid-read (a send that failed or was cancelled while the engine worked) leaked one slot so, until the host
    /// took questions and answered none. So the engine is told to stop, the pending read awaited, then it is disposed.
    /// An engine that does not stop within <see cref="CloseWait"/> is left as it is, and said so: the job still ends.
    /// </summary>
    private async Task CloseAsync(IAsyncEnumerator<InferenceUpdate> updates, Task<bool>? pending,
        CancellationTokenSource generation)
    {
        if (pending is { IsCompleted: false })
        {
            await generation.CancelAsync();
            await ((Task)pending).WaitAsync(CloseWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!pending.IsCompleted)
            {
                LogEngineDidNotStop(logger, request.RequestId, (int)CloseWait.TotalSeconds);
                return;
            }
        }

        await updates.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The engine did not stop the read of request {RequestId} within {Seconds} s of being told to; its stream is left open")]
    private static partial void LogEngineDidNotStop(ILogger logger, Guid requestId, int seconds);
}
