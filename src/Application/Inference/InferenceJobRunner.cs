using System.Diagnostics;
using MeatLizard.Application.Common.Mapping;
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
/// Runs one request on the engine and streams the answer back (<see cref="JobAnswer"/>), then sends the final — or, when
/// the job fails or is stopped, the error that tells the server why. While the engine works, the relay's
/// <see cref="IGenerationIndicator"/> shows it (Discord: typing); it stops before the final or error is sent.
/// </summary>
public sealed partial class InferenceJobRunner(
    HostEngine engine,
    HostJobs jobs,
    JobEnvelopes envelopes,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<InferenceJobRunner> logger,
    IGenerationIndicator? indicator = null)
{
    /// <summary>The error code of a job stopped because the worker shut down before it finished.</summary>
    public const string ShutdownCode = RelayErrorCodes.Shutdown;

    public const string ShutdownMessage = "the model host shut down before the answer was finished; please send it again";

    private readonly IGenerationIndicator _indicator = indicator ?? new NoGenerationIndicator();

    /// <summary>
    /// Starts the job in the background; false when this attempt of the request (or a later one) is already running
    /// here. A later attempt of a request running here replaces the earlier one: the server waits for the later one's
    /// envelopes and ignores the earlier's. (A restarted host reads the dispatch its last run had taken while the server,
    /// having seen that run go, sends the request again: answering the first would leave the second unacknowledged.)
    /// </summary>
    public bool Start(RelayEnvelope envelope, RequestBody body)
    {
        var job = InferenceJob.Receive(new RelayRequestId(envelope.RequestId), new ChatId(envelope.SessionId), clock.UtcNow);
        var cancellation = new CancellationTokenSource();
        var attempt = Math.Max(1, envelope.Seq);
        if (!jobs.TryAdd(job, cancellation, out var running, envelopes.AnsweredBy(body.Model), attempt))
        {
            cancellation.Dispose();
            if (running.Attempt < attempt)
            {
                LogSuperseded(logger, envelope.RequestId, running.Attempt, attempt);
                jobs.Cancel(envelope.RequestId);
                _ = running.Completion.ContinueWith(_ => Start(envelope, body), CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            return false;
        }

        var request = new InferenceRequest(envelope.RequestId, envelope.SessionId, body.Model, body.SystemPrompt,
            body.Messages.Select(m => new ChatTurn(MessageRoles.Parse(m.Role), m.Content, m.ToolCalls.ToToolCalls(), m.ToolCallId)
                {
                    Images = m.Images is { Count: > 0 } images ? [.. images.Select(TurnImage.FromDataUrl)] : null,
                })
                .ToList(), body.Temperature,
            body.TopP, body.MaxTokens, body.Extras) { AnswerStart = body.AnswerStart };
        // The request's sequence number is its attempt: this attempt's envelopes are numbered after any earlier one's.
        var firstSeq = (Math.Max(1, envelope.Seq) - 1) * RelayRequest.SeqPerAttempt;
        _ = Task.Run(() => RunAsync(running, request, firstSeq, body.TraceParent, cancellation.Token), CancellationToken.None);
        return true;
    }

    /// <summary>
    /// Hands a request back unrun, saying why (<see cref="JobEnvelopes.Draining"/>, <see cref="JobEnvelopes.Restarted"/>).
    /// </summary>
    public ValueTask HandBackAsync(RelayEnvelope envelope, ErrorBody why, CancellationToken cancellationToken) =>
        envelopes.RefuseAsync(envelope, why, cancellationToken);

    private async Task RunAsync(RunningJob running, InferenceRequest request, int firstSeq,
        string? traceParent, CancellationToken cancellationToken)
    {
        // The job continues the trace the server sent inside the encrypted body: its log lines, and the engine's call to
        // llama-server (HttpClient sends the current activity's traceparent), carry the message's trace id.
        using var activity = MessageTracing.StartUnder("inference job", ActivityKind.Consumer, traceParent,
            request.RequestId);
        using var scope = logger.BeginRequestScope(request.RequestId, traceParent);
        var job = running.Job;
        var answer = new JobAnswer(envelopes, request, firstSeq, options.Value, clock, logger);
        var typing = _indicator.Show(request.ChatId);
        try
        {
            job.Start(clock.UtcNow);
            var started = Stopwatch.GetTimestamp();
            var completed = await answer.StreamAsync(engine.Required, job, cancellationToken);
            var inferenceMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            jobs.RecordSpeed(completed?.CompletionTokens ?? 0,
                completed?.Timings?.GenerationMs is { } generationMs
                    ? TimeSpan.FromMilliseconds(generationMs)
                    : TimeSpan.FromMilliseconds(inferenceMs), running.Model);
            await StopIndicatorAsync(typing);
            job.Complete(completed?.PromptTokens ?? 0, completed?.CompletionTokens ?? job.CompletionTokens, clock.UtcNow);
            await envelopes.FinalAsync(request, answer.NextSeq, job, answer.Content, inferenceMs, completed);
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
                await ErrorAsync(answer, request, new ErrorBody(ShutdownCode, ShutdownMessage));
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
            await ErrorAsync(answer, request, new ErrorBody(ShutdownCode, ShutdownMessage));
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
            var code = ex switch
            {
                InferenceFailedException { EngineLost: true } => RelayErrorCodes.EngineLost,
                InferenceFailedException { Unavailable: true } when answer.Content.Length == 0 => RelayErrorCodes.EngineUnavailable,
                _ => "inference_failed",
            };
            await ErrorAsync(answer, request, new ErrorBody(code, message));
        }
        finally
        {
            await StopIndicatorAsync(typing);
            jobs.Remove(request.RequestId);
            running.MarkDone();
        }
    }

    /// <summary>
    /// Tells the server why the job ends without its final, after the words the engine wrote since the last piece: a
    /// hand-back goes on from all of them, a notice keeps them.
    /// </summary>
    private async Task ErrorAsync(JobAnswer answer, InferenceRequest request, ErrorBody error)
    {
        await answer.FlushBeforeErrorAsync();
        await envelopes.ErrorSafelyAsync(request, answer.NextSeq, error);
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

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Inference for request {RequestId} was still running at Host:DrainDeadline and was stopped")]
    private static partial void LogStoppedForShutdown(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} came again as attempt {Attempt} while attempt {Running} ran here: the later one replaces it")]
    private static partial void LogSuperseded(ILogger logger, Guid requestId, int running, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference for request {RequestId} was cancelled")]
    private static partial void LogCancelled(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Inference for request {RequestId} failed ({ErrorType})")]
    private static partial void LogFailed(ILogger logger, Guid requestId, string errorType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The generation indicator could not be stopped ({ErrorType})")]
    private static partial void LogIndicatorFailed(ILogger logger, string errorType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} answered: {CompletionTokens} tokens in {InferenceMs} ms")]
    private static partial void LogAnswered(ILogger logger, Guid requestId, int completionTokens, int inferenceMs);
}
