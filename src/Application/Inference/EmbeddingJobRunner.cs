using System.Diagnostics;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Embeddings;
using MeatLizard.Application.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Inference;

/// <summary>
/// Runs an <c>embed</c> the server sent this host on its engine and sends back the <c>vectors</c>, or the error that
/// says why not. It belongs to no chat: both travel on the control channel.
/// </summary>
public sealed partial class EmbeddingJobRunner(
    HostEngine engine, HostJobs jobs, HostRelay relay, ILogger<EmbeddingJobRunner> logger)
{
    /// <summary>The sequence number of the one envelope that answers an embed (its vectors or its error).</summary>
    public const int AnswerSeq = 1;

    /// <summary>Starts the embed in the background, unless it is for another host or this one is draining.</summary>
    public async Task AcceptAsync(RelayEnvelope envelope, CancellationToken cancellationToken)
    {
        EmbedBody body;
        try
        {
            body = RelayJson.FromBody<EmbedBody>(envelope);
        }
        catch (JsonException)
        {
            LogMalformed(logger, envelope.RequestId);
            return;
        }

        if (body.WorkerId is { } target && target != jobs.WorkerId)
        {
            jobs.CountForAnotherHost();
            return;
        }

        if (jobs.Draining)
        {
            await relay.SendAsync(EnvelopeType.Error, null, envelope.RequestId, AnswerSeq,
                new ErrorBody(RelayErrorCodes.Draining, "the model host is shutting down; try again shortly"),
                cancellationToken);
            return;
        }

        _ = Task.Run(() => RunAsync(envelope.RequestId, body), CancellationToken.None);
    }

    private async Task RunAsync(Guid requestId, EmbedBody body)
    {
        using var activity = MessageTracing.StartUnder("embedding job", ActivityKind.Consumer, body.TraceParent, requestId);
        try
        {
            if (engine.Required is not IEmbeddingEngine embedder)
            {
                throw new InferenceFailedException("This model host's engine makes no embeddings.");
            }

            var started = Stopwatch.GetTimestamp();
            var result = await embedder.EmbedAsync(
                new EmbeddingRequest(requestId, body.Model, body.Input, body.Dimensions), CancellationToken.None);
            if (result.Vectors.Count != body.Input.Count)
            {
                throw new InferenceFailedException(
                    $"The engine gave {result.Vectors.Count} vectors for {body.Input.Count} inputs.");
            }

            var inferenceMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            await relay.SendAsync(EnvelopeType.Vectors, null, requestId, AnswerSeq,
                new VectorsBody([.. result.Vectors.Select(v => EmbeddingVectors.ToBase64(v))], result.PromptTokens,
                    inferenceMs, body.Model ?? jobs.ServedModels?.FirstOrDefault()),
                CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogFailed(logger, requestId, ex.GetType().Name);
            var (code, message) = ex switch
            {
                InferenceFailedException { EngineLost: true } failed => (RelayErrorCodes.EngineLost, failed.Message),
                InferenceFailedException { Unavailable: true } failed => (RelayErrorCodes.EngineUnavailable, failed.Message),
                InferenceFailedException { InputRefused: true } failed => (RelayErrorCodes.InputRefused, failed.Message),
                InferenceFailedException failed => ("inference_failed", failed.Message),
                _ => ("inference_failed", "The worker hit an unexpected error."),
            };
            try
            {
                await relay.SendAsync(EnvelopeType.Error, null, requestId, AnswerSeq, new ErrorBody(code, message),
                    CancellationToken.None);
            }
            catch (Exception sendFailed) when (sendFailed is not OutOfMemoryException)
            {
                // The server's own deadline ends the call.
                LogSendFailed(logger, requestId, sendFailed.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a malformed embed envelope ({RequestId})")]
    private static partial void LogMalformed(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Embeddings of request {RequestId} failed ({ErrorType})")]
    private static partial void LogFailed(ILogger logger, Guid requestId, string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report the failed embeddings of request {RequestId} ({ErrorType})")]
    private static partial void LogSendFailed(ILogger logger, Guid requestId, string errorType);
}
