using System.Diagnostics;
using System.Runtime.ExceptionServices;
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
/// final (sent by the job) carries the whole answer, so text still waiting when the engine finishes goes with it; text
/// still waiting when the job fails goes as a piece before its error (<see cref="FlushBeforeErrorAsync"/>).
/// </summary>
internal sealed partial class JobAnswer(
    JobEnvelopes envelopes, InferenceRequest request, int firstSeq, RelayOptions options, IClock clock, ILogger logger)
{
    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _content = new();
    private long _lastFlush = Stopwatch.GetTimestamp();
    private bool _acknowledged;

    /// <summary>The number of the job's next envelope (its first is <c>firstSeq</c>, the ack's).</summary>
    public int NextSeq { get; private set; } = firstSeq + 1;

    /// <summary>All the answer's text so far.</summary>
    public string Content => _content.ToString();

    /// <summary>
    /// Streams the engine's answer to the server; returns its completion (null when the engine sent none). When the
    /// engine is lost mid-answer (its process died or hung and is being started again), the host itself asks the engine's
    /// next run to go on from what it has written (<see cref="InferenceRequest.AnswerStart"/>), and the answer streams on
    /// under the same numbers: nothing is handed back, so nobody following it sees it start over. (Handed back, a request
    /// goes on only from what the server bot that takes it back saw — with two server bots, only some of the pieces.) An
    /// engine that does not give the start back first cannot go on from it: the loss is handed back as before.
    /// </summary>
    public async Task<InferenceCompleted?> StreamAsync(IInferenceEngine engine, InferenceJob job, CancellationToken cancellationToken)
    {
        InferenceFailedException? lost = null;
        for (var goneOn = 0; ; goneOn++)
        {
            var start = lost is null ? null : Content;
            var tokensBefore = job.CompletionTokens;
            Streamed streamed;
            try
            {
                streamed = await StreamOnceAsync(engine, start is null ? request : request with { AnswerStart = start },
                    start, job, cancellationToken);
            }
            catch (InferenceFailedException ex) when (ex.EngineLost && MayGoOn(goneOn))
            {
                LogGoingOn(logger, request.RequestId, goneOn + 1);
                lost = ex;
                continue;
            }
            catch (InferenceFailedException) when (lost is not null)
            {
                // The next run failed otherwise (it never became ready in time, say): the loss is handed back, as it
                // would have been had the host not tried to go on, so another host may answer.
                streamed = new Streamed(false, null);
            }

            if (!streamed.GoneOn)
            {
                ExceptionDispatchInfo.Throw(lost!);
            }

            return start is null || streamed.Completed is not { } completed
                ? streamed.Completed
                : completed with { CompletionTokens = tokensBefore + completed.CompletionTokens };
        }
    }

    /// <summary>
    /// Whether the host goes on from what it has written after losing its engine the <paramref name="goneOn"/>+1st time:
    /// only with something written (with nothing, another host may answer sooner), never a request with tools (a
    /// prefilled answer cannot become a tool call), and no more often than the relay hands back a lost engine's question.
    /// </summary>
    private bool MayGoOn(int goneOn) =>
        _content.Length > 0 && request.Extras?.Tools is null && goneOn < options.EngineLostRetries;

    /// <summary>How one call of the engine ended: <see cref="GoneOn"/> is false when it did not give back the start asked.</summary>
    private readonly record struct Streamed(bool GoneOn, InferenceCompleted? Completed);

    private async Task<Streamed> StreamOnceAsync(IInferenceEngine engine, InferenceRequest asked, string? givenBack,
        InferenceJob job, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        InferenceCompleted? completed = null;
        // The engine's own token: cancelled to end a read still pending when the job stops
        // (see EngineStreams.CloseAsync).
        using var generation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var updates = engine.GenerateAsync(asked, generation.Token).GetAsyncEnumerator(generation.Token);
        Task<bool>? next = null;
        try
        {
            while (true)
            {
                next ??= updates.MoveNextAsync().AsTask();
                if (!_acknowledged && !next.IsCompleted)
                {
                    var ackIn = options.AckDelay - Stopwatch.GetElapsedTime(started);
                    if (ackIn <= TimeSpan.Zero || !await next.CompletesWithinAsync(ackIn, cancellationToken))
                    {
                        await envelopes.AckAsync(request, firstSeq, cancellationToken);
                        _acknowledged = true;
                    }
                }

                if (_pending.Length > 0)
                {
                    var wait = options.PartialInterval - Stopwatch.GetElapsedTime(_lastFlush);
                    if (wait > TimeSpan.Zero && await next.CompletesWithinAsync(wait, cancellationToken))
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
                    return new Streamed(givenBack is null, completed);
                }

                next = null;
                if (givenBack is not null)
                {
                    // Going on after a lost engine: its next run gives back what was written first (already sent, so
                    // not again). Any other first update is an answer from the beginning, which cannot follow it.
                    if (updates.Current is not InferenceDelta { Tokens: 0 } echo || echo.Text != givenBack)
                    {
                        return new Streamed(false, null);
                    }

                    givenBack = null;
                    continue;
                }

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
            await EngineStreams.CloseAsync(updates, next, generation, request.RequestId, logger);
        }
    }

    /// <summary>
    /// Sends the text the engine wrote since the last piece, before the job's error goes: a request handed back goes on
    /// from every word sent (its next attempt need not write them again), and an answer that ends in a notice keeps
    /// them. A piece that cannot be sent is left, said in the log: the error still goes.
    /// </summary>
    public async Task FlushBeforeErrorAsync()
    {
        if (_pending.Length == 0)
        {
            return;
        }

        try
        {
            await FlushAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogPendingNotSent(logger, request.RequestId, ex.GetType().Name);
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var text = _pending.ToString();
        _pending.Clear();
        _lastFlush = Stopwatch.GetTimestamp();
        await envelopes.PartialAsync(request, NextSeq++, text, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The engine was lost mid-answer of request {RequestId}; its next run goes on from what was written (time {Time})")]
    private static partial void LogGoingOn(ILogger logger, Guid requestId, int time);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The last words of request {RequestId} could not be sent before its error ({ErrorType})")]
    private static partial void LogPendingNotSent(ILogger logger, Guid requestId, string errorType);
}
