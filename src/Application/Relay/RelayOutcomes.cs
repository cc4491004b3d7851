using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The ways a request ends on the server side, each storing its message and the request's new state together
/// (both or neither), then telling the session's listeners. Callers hold the request's gate; the store is conditional on
/// the status the caller read, so when another process ended the request first nothing is stored or told.
/// </summary>
public sealed partial class RelayOutcomes(
    IRelayRequestRepository requests,
    IMessageRepository messages,
    IChatSessionRepository sessions,
    IFallbackResponder fallback,
    IMetricsRecorder metrics,
    IChatEvents events,
    RelayStreamState streams,
    IServerRelayTransport transport,
    IEnvelopeCipher cipher,
    IClock clock,
    ModelHosts hosts,
    IRelayQueueSignal queueSignal,
    PlatformMetrics platformMetrics,
    ISessionClosedSignal closedSignal,
    ILogger<RelayOutcomes> logger)
{
    /// <summary>
    /// Stores the answer. <paramref name="storedStatus"/> is the status the request has in the store when the caller
    /// changed it in memory since (an ack or pieces applied together with this final); by default its current one.
    /// <paramref name="deltas"/> are pieces that arrived with the final: they are published with the answer, before
    /// it, as one unit. False when nothing was stored: the request had ended, or another process changed it since it
    /// was read.
    /// </summary>
    /// <summary>
    /// Why the model stopped, as the host's engine said (llama.cpp and OpenAI-compatible servers say <c>stop</c> or
    /// <c>length</c>); null for anything else, which the answer then leaves unsaid.
    /// </summary>
    internal static FinishReason? FinishOf(FinalBody final) => final.FinishReason switch
    {
        "stop" => FinishReason.Stop,
        "length" => FinishReason.Length,
        _ => null,
    };

    public async Task<bool> CompleteAsync(RelayRequest request, FinalBody final, CancellationToken cancellationToken,
        RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null)
    {
        // Storing the answer ends the message's trace, which began with the send.
        using var activity = MessageTracing.StartUnder("answer store", ActivityKind.Internal, request.TraceParent,
            request.Id.Value);
        using var scope = logger.BeginRequestScope(request.Id.Value, request.TraceParent);
        var now = clock.UtcNow;
        var answer = Message.Answer(request.SessionId, request.Id, final.Content, MessageSource.Model,
            new TokenCounts(final.PromptTokens, final.CompletionTokens), now, final.Model, FinishOf(final));
        var read = storedStatus ?? request.Status;
        if (!request.Complete(answer.Id, now))
        {
            return true; // already ended: nothing to store, and reading it again would change nothing
        }

        bool stored;
        try
        {
            stored = await StoreThroughOutagesAsync(request, read, answer, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !DatabaseFailures.IsOutage(ex))
        {
            // The database refuses this answer, and will again: the request ends now with a notice instead of waiting
            // for the completion timeout (which would answer with the fallback and keep the chat busy meanwhile).
            streams.Remove(request.Id.Value);
            LogAnswerRefused(logger, request.Id.Value, ex.GetType().Name);
            return await EndUnstorableAsync(request.Id, deltas, cancellationToken);
        }

        streams.Remove(request.Id.Value);
        if (!stored)
        {
            return false;
        }

        if (request is { WorkerId: { } host, DispatchedAt: { } dispatchedAt })
        {
            hosts.RecordAnswerTime(host, now - dispatchedAt);
        }

        if (!request.Options.KeepNothing)
        {
            fallback.Learn(request.UserId, final.Content);
        }

        LogAnswerStored(logger, request.Id.Value, final.CompletionTokens);
        await PublishAnswerAsync(request, deltas, answer, AnswerStatuses.Completed, cancellationToken);
        await RecordAsync(request, now, "completed", final, cancellationToken);
        await ForgetIfAskedAsync(request, cancellationToken);
        return true;
    }

    /// <summary>
    /// Stores the worker's error as a notice; <paramref name="storedStatus"/>, <paramref name="deltas"/> and the result
    /// as for <see cref="CompleteAsync"/>.
    /// </summary>
    public Task<bool> FailAsync(RelayRequest request, ErrorBody error, CancellationToken cancellationToken,
        RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null) =>
        EndWithNoticeAsync(request, error, $"The model host could not answer: {error.Message}", cancellationToken,
            storedStatus, deltas);

    /// <summary>
    /// Ends a request the relay will not send (e.g. a model no host serves) with <paramref name="notice"/> as its
    /// answer, <paramref name="code"/> as its error.
    /// </summary>
    public Task<bool> RefuseAsync(RelayRequest request, string code, string notice, CancellationToken cancellationToken) =>
        EndWithNoticeAsync(request, new ErrorBody(code, notice), notice, cancellationToken);

    private async Task<bool> EndWithNoticeAsync(RelayRequest request, ErrorBody error, string text,
        CancellationToken cancellationToken, RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null)
    {
        var now = clock.UtcNow;
        var notice = Message.Answer(request.SessionId, request.Id, text, MessageSource.Notice, null, now);
        var read = storedStatus ?? request.Status;
        if (!request.Fail(error.Code, notice.Id, now))
        {
            return true;
        }

        var stored = await StoreAsync(request, read, notice, cancellationToken);
        streams.Remove(request.Id.Value);
        if (!stored)
        {
            return false;
        }

        ChatEvent[] told = [.. deltas ?? [], new ChatEvent(ChatEventTypes.Error, request.SessionId.Value, request.Id.Value,
            Error: error.Message)];
        await PublishAnswerAsync(request, told, notice, AnswerStatuses.Failed, cancellationToken);
        await RecordAsync(request, now, "failed", null, cancellationToken);
        await ForgetIfAskedAsync(request, cancellationToken);
        return true;
    }

    /// <summary>
    /// Puts an in-flight request back in the queue for another host (<see cref="RelayRequest.Requeue"/>): its host is
    /// stopping or went quiet. Clients are told (status <c>requeued</c>): what they were shown of it starts over.
    /// False when the store refused the change (the request changed elsewhere).
    /// </summary>
    public async Task<bool> RequeueAsync(RelayRequest request, RelayRequestStatus read, string why,
        CancellationToken cancellationToken, bool hostGaveUp = true)
    {
        var from = request.WorkerId;
        if (!request.Requeue())
        {
            return true;
        }

        if (hostGaveUp && from is { } host)
        {
            // Claimable again at once: it must not go straight back to the host that just gave it up.
            hosts.GaveUp(host);
        }

        if (!await StoreAsync(request, read, null, cancellationToken))
        {
            return false;
        }

        streams.Remove(request.Id.Value);
        LogRequeued(logger, request.Id.Value, why);
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value,
            Status: AnswerStatuses.Requeued), cancellationToken);
        queueSignal.NotifyPending();
        return true;
    }

    /// <summary>Times the request out and lets the configured fallback answer; tells a worker that has it to stop.</summary>
    public async Task FallBackAsync(RelayRequest request, RelayTimeoutReason reason, CancellationToken cancellationToken)
    {
        using var activity = MessageTracing.StartUnder("fallback answer", ActivityKind.Internal, request.TraceParent,
            request.Id.Value);
        using var scope = logger.BeginRequestScope(request.Id.Value, request.TraceParent);
        var wasInFlight = request.IsInFlight;
        var read = request.Status;
        request.TimeOut(reason, clock.UtcNow);
        FallbackReply reply;
        if (request.Options.ModelOnly)
        {
            // Nothing may pretend to be the model (OpenAI's API): the caller is told no model host answered.
            reply = new FallbackReply(ModelOnlyNotice(reason), MessageSource.Notice);
        }
        else
        {
            var prompt = await messages.GetAsync(request.UserMessageId, cancellationToken);
            reply = await fallback.ReplyAsync(request.UserId, prompt?.Content ?? string.Empty, reason, cancellationToken);
        }

        var now = clock.UtcNow;
        var answer = Message.Answer(request.SessionId, request.Id, reply.Content, reply.Source, null, now);
        request.FallBack(answer.Id, now);
        var stored = await StoreAsync(request, read, answer, cancellationToken);
        streams.Remove(request.Id.Value);
        if (!stored)
        {
            return;
        }

        if (wasInFlight)
        {
            await SendCancelAsync(request, "timed out", cancellationToken);
        }

        await PublishAnswerAsync(request, null, answer, AnswerStatuses.Fallback, cancellationToken);
        await RecordAsync(request, now, $"fallback:{reason}", null, cancellationToken);
        await ForgetIfAskedAsync(request, cancellationToken);
    }

    /// <summary>What a request that only the model may answer gets when no model host did.</summary>
    public static string ModelOnlyNotice(RelayTimeoutReason reason) => reason switch
    {
        RelayTimeoutReason.NoAck => "No model host took this request in time.",
        RelayTimeoutReason.NoCompletion => "The model host did not finish this answer in time.",
        _ => "No model host is online to answer.",
    };

    /// <summary>
    /// A request that asked to keep nothing (OpenAI's <c>store: false</c>) takes its chat with it once answered and told:
    /// the chat was made for it alone. Its relay channel goes too (the server bot deletes the channel of a chat that is
    /// gone, now when told, else at its next sweep). A failure is logged; the chat then stays, like any other.
    /// </summary>
    private async Task ForgetIfAskedAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        if (!request.Options.KeepNothing)
        {
            return;
        }

        try
        {
            await sessions.DeleteAsync(request.SessionId, cancellationToken);
            closedSignal.NotifyClosed(request.SessionId.Value);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogForgetFailed(logger, request.Id.Value, ex.GetType().Name);
        }
    }

    /// <summary>
    /// Stops the request; text already streamed is kept as the (partial) answer. False when there was nothing to
    /// stop, or when another process changed the request since it was read (read it again to retry).
    /// </summary>
    public async Task<bool> CancelAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        var wasInFlight = request.IsInFlight;
        var read = request.Status;
        var now = clock.UtcNow;
        var produced = streams.Peek(request.Id.Value)?.Text;
        var kept = string.IsNullOrEmpty(produced)
            ? null
            : Message.Answer(request.SessionId, request.Id, produced, MessageSource.Model, null, now);
        if (!request.Cancel(now, kept?.Id))
        {
            return false;
        }

        if (!await StoreAsync(request, read, kept, cancellationToken))
        {
            return false;
        }

        streams.Remove(request.Id.Value);
        if (wasInFlight)
        {
            await SendCancelAsync(request, "cancelled by the user", cancellationToken);
        }

        var cancelled = new ChatEvent(ChatEventTypes.Status, request.SessionId.Value, request.Id.Value,
            Status: AnswerStatuses.Cancelled);
        if (kept is null)
        {
            await events.PublishAsync(cancelled, cancellationToken);
        }
        else
        {
            await events.PublishAsync([cancelled, new ChatEvent(ChatEventTypes.Message, request.SessionId.Value,
                request.Id.Value, Message: kept.ToDto())], cancellationToken);
        }

        await RecordAsync(request, now, "cancelled", null, cancellationToken);
        await ForgetIfAskedAsync(request, cancellationToken);
        return true;
    }

    /// <summary>
    /// Stores an answer the model produced through a database outage: tried again with growing pauses while the failure
    /// may pass, for up to <see cref="OutageRetryLimit"/>, so a database restart does not turn the answer into a timeout
    /// notice. A failure that will not pass is thrown at once.
    /// </summary>
    private async Task<bool> StoreThroughOutagesAsync(
        RelayRequest request, RelayRequestStatus read, Message answer, CancellationToken cancellationToken)
    {
        var pause = TimeSpan.FromMilliseconds(100);
        var waited = TimeSpan.Zero;
        while (true)
        {
            try
            {
                return await StoreAsync(request, read, answer, cancellationToken);
            }
            catch (Exception ex) when (DatabaseFailures.IsOutage(ex) && waited + pause <= OutageRetryLimit)
            {
                platformMetrics.DatabaseFailed(ex);
                LogStoreRetried(logger, request.Id.Value, (int)pause.TotalMilliseconds);
                await Task.Delay(pause, cancellationToken);
                waited += pause;
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxOutagePause.Ticks));
            }
        }
    }

    /// <summary>How long an answer's store is retried through a database outage before the failure is passed on.</summary>
    internal static readonly TimeSpan OutageRetryLimit = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan MaxOutagePause = TimeSpan.FromSeconds(5);

    /// <summary>Ends a request whose answer the database refused with a notice saying so, as read again from the store.</summary>
    private async Task<bool> EndUnstorableAsync(
        RelayRequestId id, IReadOnlyList<ChatEvent>? deltas, CancellationToken cancellationToken)
    {
        if (await requests.GetAsync(id, cancellationToken) is not { IsFinished: false } stored)
        {
            return true;
        }

        return await FailAsync(stored, new ErrorBody("answer_not_stored",
            "the answer it produced could not be stored; please ask again"), cancellationToken, deltas: deltas);
    }

    /// <summary>False, storing nothing, when the request's stored status is no longer the one it was read with.</summary>
    private async Task<bool> StoreAsync(
        RelayRequest request, RelayRequestStatus read, Message? answer, CancellationToken cancellationToken)
    {
        var stored = answer is null
            ? await requests.TryUpdateAsync(request, read, cancellationToken)
            : await requests.TryUpdateWithAnswerAsync(request, read, answer, cancellationToken);
        if (!stored)
        {
            LogChangedElsewhere(logger, request.Id.Value, read);
        }
        else if (read is RelayRequestStatus.Dispatched or RelayRequestStatus.Streaming && hosts.QueueWaiting)
        {
            // A slot came free on a host while requests wait for one: the dispatcher need not wait for its next poll.
            queueSignal.NotifyPending();
        }

        return stored;
    }

    private async Task SendCancelAsync(RelayRequest request, string reason, CancellationToken cancellationToken)
    {
        var envelope = new RelayEnvelope(EnvelopeType.Cancel, request.SessionId.Value, request.Id.Value,
            request.LastSeq + 1, clock.UtcNow, RelayJson.ToBody(new CancelBody(reason)));
        await transport.SendAsync(
            new RelayPacket(request.SessionId.Value, cipher.Seal(envelope, RelayDirection.ServerToClient)),
            cancellationToken);
    }

    /// <summary>
    /// The answer and the request's final status, after <paramref name="before"/> when given, as one unit: one
    /// message on a bus that crosses processes instead of one each.
    /// </summary>
    private async Task PublishAnswerAsync(RelayRequest request, IReadOnlyList<ChatEvent>? before, Message answer,
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

    /// <summary>Figures are recorded last and never at the cost of the answer: a failure here is only logged.</summary>
    private async Task RecordAsync(
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
            platformMetrics.Generated(final.CompletionTokens, final.GenerationMs, final.InferenceMs);
        }

        try
        {
            await metrics.RecordAsync(new RequestMetric(request.Id.Value, request.SessionId.Value, now, queueMs, relayMs,
                inferenceMs, final?.PromptTokens ?? 0, final?.CompletionTokens ?? 0,
                request.Status == RelayRequestStatus.Fallback, outcome, final?.PromptMs, final?.GenerationMs)
            {
                Model = final?.Model,
                WorkerId = request.WorkerId,
            },
                cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogMetricFailed(logger, request.Id.Value, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} was no longer {Status} when its outcome was stored (another process ended it first); nothing stored")]
    private static partial void LogChangedElsewhere(ILogger logger, Guid requestId, RelayRequestStatus status);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The database could not be reached to store the answer of request {RequestId}; trying again in {PauseMs} ms")]
    private static partial void LogStoreRetried(ILogger logger, Guid requestId, int pauseMs);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "The database refused the answer of request {RequestId} ({Error}); the request ends with a notice")]
    private static partial void LogAnswerRefused(ILogger logger, Guid requestId, string error);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The chat of request {RequestId}, which asked to keep nothing, could not be deleted ({ErrorType})")]
    private static partial void LogForgetFailed(ILogger logger, Guid requestId, string errorType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The answer of request {RequestId} is stored ({CompletionTokens} tokens)")]
    private static partial void LogAnswerStored(ILogger logger, Guid requestId, int completionTokens);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the figures of request {RequestId}")]
    private static partial void LogMetricFailed(ILogger logger, Guid requestId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} goes back to the queue for another host ({Why})")]
    private static partial void LogRequeued(ILogger logger, Guid requestId, string why);
}
