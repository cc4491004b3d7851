using AutoMapper;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The ways a request ends on the server side, each storing its message and the request's new state in one
/// transaction, then telling the session's listeners. Callers hold the request's gate.
/// </summary>
public sealed partial class RelayOutcomes(
    IUnitOfWork unitOfWork,
    IRelayRequestRepository requests,
    IMessageRepository messages,
    IFallbackResponder fallback,
    IMetricsRecorder metrics,
    IChatEvents events,
    RelayStreamState streams,
    IServerRelayTransport transport,
    IEnvelopeCipher cipher,
    IMapper mapper,
    IClock clock,
    ILogger<RelayOutcomes> logger)
{
    public async Task CompleteAsync(RelayRequest request, FinalBody final, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var answer = Message.Answer(request.SessionId, request.Id, final.Content, MessageSource.Model,
            new TokenCounts(final.PromptTokens, final.CompletionTokens), now);
        if (!request.Complete(answer.Id, now))
        {
            return;
        }

        await StoreAsync(request, answer, cancellationToken);
        streams.Remove(request.Id.Value);
        fallback.Learn(final.Content);
        await PublishAnswerAsync(request, answer, "completed", cancellationToken);
        await RecordAsync(request, now, "completed", final, cancellationToken);
    }

    public async Task FailAsync(RelayRequest request, ErrorBody error, CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var notice = Message.Answer(request.SessionId, request.Id,
            $"The model host could not answer: {error.Message}", MessageSource.Notice, null, now);
        if (!request.Fail(error.Code, notice.Id, now))
        {
            return;
        }

        await StoreAsync(request, notice, cancellationToken);
        streams.Remove(request.Id.Value);
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Error, request.SessionId.Value, request.Id.Value,
            Error: error.Message), cancellationToken);
        await PublishAnswerAsync(request, notice, "failed", cancellationToken);
        await RecordAsync(request, now, "failed", null, cancellationToken);
    }

    /// <summary>Times the request out and lets the configured fallback answer; tells a worker that has it to stop.</summary>
    public async Task FallBackAsync(RelayRequest request, RelayTimeoutReason reason, CancellationToken cancellationToken)
    {
        var wasInFlight = request.IsInFlight;
        request.TimeOut(reason, clock.UtcNow);
        var prompt = await messages.GetAsync(request.UserMessageId, cancellationToken);
        var reply = await fallback.ReplyAsync(prompt?.Content ?? string.Empty, reason, cancellationToken);
        var now = clock.UtcNow;
        var answer = Message.Answer(request.SessionId, request.Id, reply.Content, reply.Source, null, now);
        request.FallBack(answer.Id, now);
        await StoreAsync(request, answer, cancellationToken);
        streams.Remove(request.Id.Value);
        if (wasInFlight)
        {
            await SendCancelAsync(request, "timed out", cancellationToken);
        }

        await PublishAnswerAsync(request, answer, "fallback", cancellationToken);
        await RecordAsync(request, now, $"fallback:{reason}", null, cancellationToken);
    }

    /// <summary>Stops the request; text already streamed is kept as the (partial) answer.</summary>
    public async Task<bool> CancelAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        var wasInFlight = request.IsInFlight;
        var now = clock.UtcNow;
        var produced = streams.Peek(request.Id.Value)?.Text;
        var kept = string.IsNullOrEmpty(produced)
            ? null
            : Message.Answer(request.SessionId, request.Id, produced, MessageSource.Model, null, now);
        if (!request.Cancel(now, kept?.Id))
        {
            return false;
        }

        await unitOfWork.InTransactionAsync(async ct =>
        {
            if (kept is not null)
            {
                await messages.AddAsync(kept, ct);
            }

            await requests.UpdateAsync(request, ct);
            return true;
        }, cancellationToken);
        streams.Remove(request.Id.Value);
        if (wasInFlight)
        {
            await SendCancelAsync(request, "cancelled by the user", cancellationToken);
        }

        await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value,
            Status: "cancelled"), cancellationToken);
        if (kept is not null)
        {
            await events.PublishAsync(new ChatEvent(ChatEventTypes.Message, request.SessionId.Value, request.Id.Value,
                Message: mapper.Map<MessageDto>(kept)), cancellationToken);
        }

        await RecordAsync(request, now, "cancelled", null, cancellationToken);
        return true;
    }

    private async Task StoreAsync(RelayRequest request, Message answer, CancellationToken cancellationToken) =>
        await unitOfWork.InTransactionAsync(async ct =>
        {
            await messages.AddAsync(answer, ct);
            await requests.UpdateAsync(request, ct);
            return true;
        }, cancellationToken);

    private async Task SendCancelAsync(RelayRequest request, string reason, CancellationToken cancellationToken)
    {
        var envelope = new RelayEnvelope(EnvelopeType.Cancel, request.SessionId.Value, request.Id.Value,
            request.LastSeq + 1, clock.UtcNow, RelayJson.ToBody(new CancelBody(reason)));
        await transport.SendAsync(
            new RelayPacket(request.SessionId.Value, cipher.Seal(envelope, RelayDirection.ServerToClient)),
            cancellationToken);
    }

    private async Task PublishAnswerAsync(
        RelayRequest request, Message answer, string status, CancellationToken cancellationToken)
    {
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Message, request.SessionId.Value, request.Id.Value,
            Message: mapper.Map<MessageDto>(answer)), cancellationToken);
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value,
            Status: status), cancellationToken);
    }

    /// <summary>Figures are recorded last and never at the cost of the answer: a failure here is only logged.</summary>
    private async Task RecordAsync(
        RelayRequest request, DateTimeOffset now, string outcome, FinalBody? final, CancellationToken cancellationToken)
    {
        var inferenceMs = final?.InferenceMs;
        var queueMs = (int)((request.DispatchedAt ?? now) - request.CreatedAt).TotalMilliseconds;
        var totalMs = (int)(now - (request.DispatchedAt ?? now)).TotalMilliseconds;
        var relayMs = Math.Max(0, totalMs - (inferenceMs ?? 0));
        try
        {
            await metrics.RecordAsync(new RequestMetric(request.Id.Value, request.SessionId.Value, now, queueMs, relayMs,
                inferenceMs, final?.PromptTokens ?? 0, final?.CompletionTokens ?? 0,
                request.Status == RelayRequestStatus.Fallback, outcome, final?.PromptMs, final?.GenerationMs),
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
