using System.Diagnostics;
using System.Text;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Inference;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Inference;

/// <summary>
/// Runs one request on the engine and streams the answer back: the first piece at once (time to first token
/// matters) — with whatever else the engine already has ready, so an engine that finishes without waiting sends
/// its final alone — then what accumulated about every <see cref="RelayOptions.PartialInterval"/>, then the final, which
/// carries the whole answer (so text still waiting when the engine finishes goes with it, not in a partial of its own).
/// The first envelope sent acknowledges the request; when the engine has nothing within
/// <see cref="RelayOptions.AckDelay"/>, a plain ack goes first. While the engine works, the relay's
/// <see cref="IGenerationIndicator"/> shows it (Discord: typing); it stops before the final or error is sent.
/// </summary>
public sealed partial class InferenceJobRunner(
    WorkerEngine engine,
    WorkerJobs jobs,
    WorkerRelay relay,
    IClock clock,
    IOptions<RelayOptions> options,
    IOptions<InferenceOptions> inference,
    ILogger<InferenceJobRunner> logger,
    IGenerationIndicator? indicator = null)
{
    /// <summary>The error code of a job stopped because the worker shut down before it finished.</summary>
    public const string ShutdownCode = RelayErrorCodes.Shutdown;

    public const string ShutdownMessage = "the model host shut down before the answer was finished; please send it again";

    /// <summary>How long a job that stops waits for the engine to end a read it has under way.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(10);

    private readonly IGenerationIndicator _indicator = indicator ?? new NoGenerationIndicator();

    /// <summary>Starts the job in the background; false when this request is already running here.</summary>
    public bool Start(RelayEnvelope envelope, RequestBody body)
    {
        var job = InferenceJob.Receive(new RelayRequestId(envelope.RequestId), new SessionId(envelope.SessionId), clock.UtcNow);
        var cancellation = new CancellationTokenSource();
        if (!jobs.TryAdd(job, cancellation, out var running, AnsweredBy(body.Model)))
        {
            cancellation.Dispose();
            return false;
        }

        var request = new InferenceRequest(envelope.RequestId, envelope.SessionId, body.Model, body.SystemPrompt,
            body.Messages.Select(m => new ChatTurn(ParseRole(m.Role), m.Content)).ToList(), body.Temperature,
            body.TopP, body.MaxTokens, body.Extras);
        // The request's sequence number is its attempt: this attempt's envelopes are numbered after any earlier one's.
        var firstSeq = (Math.Max(1, envelope.Seq) - 1) * RelayRequest.SeqPerAttempt;
        _ = Task.Run(() => RunAsync(running, request, firstSeq, body.TraceParent, cancellation.Token), CancellationToken.None);
        return true;
    }

    private async Task RunAsync(WorkerJobs.RunningJob running, InferenceRequest request, int firstSeq,
        string? traceParent, CancellationToken cancellationToken)
    {
        // The job continues the trace the server sent inside the encrypted body: its log lines, and the engine's call to
        // llama-server (HttpClient sends the current activity's traceparent), carry the message's trace id.
        using var activity = MessageTracing.StartUnder("inference job", ActivityKind.Consumer, traceParent,
            request.RequestId);
        using var scope = logger.BeginRequestScope(request.RequestId, traceParent);
        var job = running.Job;
        var seq = firstSeq + 1;
        var acknowledged = false;
        var typing = _indicator.Show(request.SessionId);
        try
        {
            job.Start(clock.UtcNow);
            var started = Stopwatch.GetTimestamp();
            var stream = new PartialStream(options.Value.PartialInterval);
            InferenceCompleted? completed = null;
            // The engine's own token: cancelled to end a read still pending when the job stops (see CloseAsync).
            using var generation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var updates = engine.Required.GenerateAsync(request, generation.Token).GetAsyncEnumerator(generation.Token);
            Task<bool>? next = null;
            try
            {
                while (true)
                {
                    next ??= updates.MoveNextAsync().AsTask();
                    if (!acknowledged && !next.IsCompleted)
                    {
                        var ackIn = options.Value.AckDelay - Stopwatch.GetElapsedTime(started);
                        if (ackIn <= TimeSpan.Zero || await Task.WhenAny(next, Task.Delay(ackIn, cancellationToken)) != next)
                        {
                            await relay.SendAsync(EnvelopeType.Ack, request.SessionId, request.RequestId, firstSeq,
                                new AckBody(jobs.WorkerId), cancellationToken);
                            acknowledged = true;
                        }
                    }

                    if (stream.HasPending)
                    {
                        var wait = stream.TimeUntilFlush();
                        if (wait > TimeSpan.Zero && await Task.WhenAny(next, Task.Delay(wait, cancellationToken)) == next)
                        {
                            // An update arrived before the flush was due: take it first.
                        }
                        else
                        {
                            await SendPartialAsync(request, seq++, stream.Flush(), cancellationToken);
                            continue;
                        }
                    }

                    if (!await next)
                    {
                        break;
                    }

                    next = null;
                    switch (updates.Current)
                    {
                        case InferenceDelta delta:
                            job.RecordOutput(delta.Tokens, clock.UtcNow);
                            stream.Append(delta.Text);
                            if (seq == firstSeq + 1)
                            {
                                // The first piece goes at once, unless the engine has more ready this instant: then it
                                // takes that too, and an answer finished without waiting goes as the final alone (one
                                // envelope less).
                                next = updates.MoveNextAsync().AsTask();
                                if (!next.IsCompleted)
                                {
                                    await SendPartialAsync(request, seq++, stream.Flush(), cancellationToken);
                                    acknowledged = true;
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
                await CloseAsync(request.RequestId, updates, next, generation);
            }

            var inferenceMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            jobs.RecordSpeed(completed?.CompletionTokens ?? 0,
                completed?.Timings?.GenerationMs is { } generationMs
                    ? TimeSpan.FromMilliseconds(generationMs)
                    : TimeSpan.FromMilliseconds(inferenceMs), running.Model);
            await StopIndicatorAsync(typing);
            job.Complete(completed?.PromptTokens ?? 0, completed?.CompletionTokens ?? job.CompletionTokens, clock.UtcNow);
            var timings = completed?.Timings;
            await relay.SendAsync(EnvelopeType.Final, request.SessionId, request.RequestId, seq,
                new FinalBody(stream.Content, job.PromptTokens, job.CompletionTokens, inferenceMs,
                    completed?.FinishReason ?? "stop", timings?.PromptMs, timings?.GenerationMs,
                    timings?.CachedPromptTokens, AnsweredBy(request.Model)), CancellationToken.None);
            LogAnswered(logger, request.RequestId, job.CompletionTokens, inferenceMs);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await StopIndicatorAsync(typing);
            job.Cancel(clock.UtcNow);
            if (running.StoppedForShutdown)
            {
                // The server did not ask for this: tell it at once, so the user gets a notice instead of silence.
                LogStoppedForShutdown(logger, request.RequestId);
                await SendErrorSafelyAsync(request, seq, new ErrorBody(ShutdownCode, ShutdownMessage));
            }
            else
            {
                LogCancelled(logger, request.RequestId);
            }
        }
        catch (Exception) when (running.StoppedForShutdown)
        {
            // An engine may fail rather than cancel when its process is stopped under it.
            await StopIndicatorAsync(typing);
            job.Cancel(clock.UtcNow);
            LogStoppedForShutdown(logger, request.RequestId);
            await SendErrorSafelyAsync(request, seq, new ErrorBody(ShutdownCode, ShutdownMessage));
        }
        catch (Exception ex)
        {
            var message = ex is InferenceFailedException ? ex.Message : "The worker hit an unexpected error.";
            jobs.RecordError(message);
            if (!job.IsFinished)
            {
                job.Fail(message, clock.UtcNow);
            }

            LogFailed(logger, request.RequestId, ex.GetType().Name);
            await StopIndicatorAsync(typing);
            var code = ex is InferenceFailedException { EngineLost: true } ? RelayErrorCodes.EngineLost : "inference_failed";
            await SendErrorSafelyAsync(request, seq, new ErrorBody(code, message));
        }
        finally
        {
            await StopIndicatorAsync(typing);
            jobs.Remove(request.RequestId);
            running.MarkDone();
        }
    }

    /// <summary>
    /// Closes the engine's stream once no read is pending on it. An async iterator disposed while a read is pending
    /// throws NotSupportedException and skips its clean-up; when that read then yields, the iterator waits at the yield
    /// for good, holding what it holds (llama-server: a slot and the HTTP stream, whose generation runs on). A job that
    /// stopped mid-read (a send that failed or was cancelled while the engine worked) leaked one slot so, until the host
    /// took questions and answered none. So the engine is told to stop, the pending read awaited, then it is disposed.
    /// An engine that does not stop within <see cref="CloseWait"/> is left as it is, and said so: the job still ends.
    /// </summary>
    private async Task CloseAsync(Guid requestId, IAsyncEnumerator<InferenceUpdate> updates, Task<bool>? pending,
        CancellationTokenSource generation)
    {
        if (pending is { IsCompleted: false })
        {
            await generation.CancelAsync();
            await ((Task)pending).WaitAsync(CloseWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!pending.IsCompleted)
            {
                LogEngineDidNotStop(logger, requestId, (int)CloseWait.TotalSeconds);
                return;
            }
        }

        await updates.DisposeAsync();
    }

    /// <summary>Stopping twice is harmless; a failure to stop only costs the indicator, never the answer.</summary>
    private async Task StopIndicatorAsync(IAsyncDisposable typing)
    {
        try
        {
            await typing.DisposeAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogIndicatorFailed(logger, ex.GetType().Name);
        }
    }

    /// <summary>
    /// The model that answered: the one asked for when this host serves it by that name, else the host's own (the first
    /// it serves, as its heartbeat lists them).
    /// </summary>
    private string? AnsweredBy(string? asked)
    {
        var served = jobs.ServedModels ?? inference.Value.ServedModelNames();
        return asked is not null && served.Contains(asked, StringComparer.Ordinal) ? asked : served.FirstOrDefault();
    }

    private ValueTask SendPartialAsync(InferenceRequest request, int seq, string text, CancellationToken cancellationToken) =>
        relay.SendAsync(EnvelopeType.Partial, request.SessionId, request.RequestId, seq, new PartialBody(text),
            cancellationToken);

    private async Task SendErrorSafelyAsync(InferenceRequest request, int seq, ErrorBody error)
    {
        try
        {
            await relay.SendAsync(EnvelopeType.Error, request.SessionId, request.RequestId, seq, error,
                CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The server times the request out and falls back; nothing more to do here.
            LogSendFailed(logger, request.RequestId, ex.GetType().Name);
        }
    }

    private static MessageRole ParseRole(string role) =>
        Enum.TryParse<MessageRole>(role, ignoreCase: true, out var parsed) ? parsed : MessageRole.User;

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Inference for request {RequestId} was still running at Worker:DrainDeadline and was stopped")]
    private static partial void LogStoppedForShutdown(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The engine did not stop the read of request {RequestId} within {Seconds} s of being told to; its stream is left open")]
    private static partial void LogEngineDidNotStop(ILogger logger, Guid requestId, int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference for request {RequestId} was cancelled")]
    private static partial void LogCancelled(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Inference for request {RequestId} failed ({ErrorType})")]
    private static partial void LogFailed(ILogger logger, Guid requestId, string errorType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The generation indicator could not be stopped ({ErrorType})")]
    private static partial void LogIndicatorFailed(ILogger logger, string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report the failure of request {RequestId} ({ErrorType})")]
    private static partial void LogSendFailed(ILogger logger, Guid requestId, string errorType);

    /// <summary>Text waiting to be sent, and all text so far.</summary>
    private sealed class PartialStream(TimeSpan interval)
    {
        private readonly StringBuilder _pending = new();
        private readonly StringBuilder _content = new();
        private long _lastFlush = Stopwatch.GetTimestamp();

        public bool HasPending => _pending.Length > 0;

        public string Content => _content.ToString();

        public void Append(string text)
        {
            _pending.Append(text);
            _content.Append(text);
        }

        public TimeSpan TimeUntilFlush() => interval - Stopwatch.GetElapsedTime(_lastFlush);

        public string Flush()
        {
            var text = _pending.ToString();
            _pending.Clear();
            _lastFlush = Stopwatch.GetTimestamp();
            return text;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} answered: {CompletionTokens} tokens in {InferenceMs} ms")]
    private static partial void LogAnswered(ILogger logger, Guid requestId, int completionTokens, int inferenceMs);
}
