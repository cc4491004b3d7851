using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// The figures of a request that ended: the platform's counters, its host's answer time, the stored request metric and
/// the asker's usage.
/// </summary>
public sealed partial class OutcomeFigures(
    IMetricsRecorder metrics,
    IUsageRecorder usage,
    PlatformMetrics platformMetrics,
    Hosts.AnswerTimes answerTimes,
    ILogger<OutcomeFigures> logger)
{
    /// <summary>
    /// Figures are recorded last and never at the cost of the answer: a failure here is only logged. An answer's time
    /// on its host is what queued requests' waits are estimated from. An answer a model wrote counts as its asker's chat
    /// usage (<see cref="IUsageRecorder"/>).
    /// </summary>
    public async Task RecordAsync(
        RelayRequest request, DateTimeOffset now, string outcome, FinalBody? final, CancellationToken cancellationToken)
    {
        var inferenceMs = final?.InferenceMs;
        var queueMs = (int)((request.DispatchedAt ?? now) - request.CreatedAt).TotalMilliseconds;
        var totalMs = (int)(now - (request.DispatchedAt ?? now)).TotalMilliseconds;
        var relayMs = Math.Max(0, totalMs - (inferenceMs ?? 0));
        if (request.DispatchedAt is { } dispatchedAt)
        {
            platformMetrics.RequestEnded(outcome, now - dispatchedAt);
        }

        if (final is not null)
        {
            if (request is { WorkerId: { } host, DispatchedAt: { } answeredSince })
            {
                answerTimes.Record(host, now - answeredSince);
            }

            platformMetrics.Generated(final.CompletionTokens, final.GenerationMs, final.InferenceMs);
        }

        try
        {
            if (final is not null)
            {
                await usage.RecordAsync(new UsageFigure(request.UserId.Value, now, UsageKinds.Chat, 0, final.PromptTokens,
                    final.CompletionTokens), cancellationToken);
            }

            await metrics.RecordAsync(new RequestMetric(request.Id.Value, request.ChatId.Value, now, queueMs, relayMs,
                inferenceMs, final?.PromptTokens ?? 0, final?.CompletionTokens ?? 0,
                request.Status == RelayRequestStatus.Fallback, outcome, final?.PromptMs, final?.GenerationMs)
            {
                Model = final?.Model,
                WorkerId = request.WorkerId,
                FirstTokenMs = request.FirstPieceAt is { } firstPieceAt
                    ? (int)Math.Max(0, (firstPieceAt - request.CreatedAt).TotalMilliseconds)
                    : null,
            },
                cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogMetricFailed(logger, request.Id.Value, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the figures of request {RequestId}")]
    private static partial void LogMetricFailed(ILogger logger, Guid requestId, Exception exception);
}
