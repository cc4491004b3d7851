using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// What follows a stored ending: the chat's listeners are told, the figures recorded, and a chat that asked to keep
/// nothing is deleted.
/// </summary>
public sealed partial class OutcomeTelling(
    IChatEvents events,
    IMetricsRecorder metrics,
    IUsageRecorder usage,
    PlatformMetrics platformMetrics,
    IChatSessionRepository sessions,
    ISessionClosedSignal closedSignal,
    Hosts.AnswerTimes answerTimes,
    Messages.ChatImages images,
    ILogger<OutcomeTelling> logger)
{
    /// <summary>
    /// The answer and the request's final status, after <paramref name="before"/> when given, as one unit: one
    /// message on a bus that crosses processes instead of one each.
    /// </summary>
    public async Task PublishAnswerAsync(RelayRequest request, IReadOnlyList<ChatEvent>? before, Message answer,
        string status, CancellationToken cancellationToken)
    {
        platformMetrics.AnswerStored(answer.Source);
        await events.PublishAsync([
            .. before ?? [],
            new ChatEvent(ChatEventTypes.Message, request.SessionId.Value, request.Id.Value,
                Message: answer.ToDto()),
            new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value, Status: status),
        ], cancellationToken);
    }

    /// <summary>The request's new status alone (requeued, cancelled with nothing kept).</summary>
    public ValueTask PublishStatusAsync(RelayRequest request, string status, CancellationToken cancellationToken) =>
        events.PublishAsync(new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value,
            Status: status), cancellationToken);

    /// <summary>The request's new status and what was kept of its answer, as one unit.</summary>
    public ValueTask PublishStatusAsync(RelayRequest request, string status, Message kept, CancellationToken cancellationToken) =>
        events.PublishAsync([
            new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value, Status: status),
            new ChatEvent(ChatEventTypes.Message, request.SessionId.Value, request.Id.Value, Message: kept.ToDto()),
        ], cancellationToken);

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

            await metrics.RecordAsync(new RequestMetric(request.Id.Value, request.SessionId.Value, now, queueMs, relayMs,
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

    /// <summary>
    /// A request that asked to keep nothing (OpenAI's <c>store: false</c>) takes its chat with it once answered and told:
    /// the chat was made for it alone. Its relay channel goes too (the server bot deletes the channel of a chat that is
    /// gone, now when told, else at its next sweep), and so do its images in the object store (the question's and any
    /// earlier turn's), first. A failure is logged; the chat then stays until the sweep of such chats deletes it and its
    /// images (<see cref="Sessions.ForgottenChatSweeper"/>).
    /// </summary>
    public async Task ForgetIfAskedAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        if (!request.Options.KeepNothing)
        {
            return;
        }

        try
        {
            // The chat was made for this request alone, so its asker owns it and its images.
            await images.ForgetChatAsync(request.UserId, request.SessionId, cancellationToken);
            await sessions.DeleteAsync(request.SessionId, cancellationToken);
            closedSignal.NotifyClosed(request.SessionId.Value);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogForgetFailed(logger, request.Id.Value, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The chat of request {RequestId}, which asked to keep nothing, could not be deleted ({ErrorType})")]
    private static partial void LogForgetFailed(ILogger logger, Guid requestId, string errorType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the figures of request {RequestId}")]
    private static partial void LogMetricFailed(ILogger logger, Guid requestId, Exception exception);
}
