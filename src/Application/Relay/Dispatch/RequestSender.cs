using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay.Outcomes;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>Sends a stored dispatch to its host, as a span of the message's trace, and tells the chat it was sent.</summary>
public sealed partial class RequestSender(
    HostEnvelopes toHosts,
    Lazy<UnsentRequests> unsent,
    RelayStreamState streams,
    PlatformMetrics metrics,
    IChatEvents events,
    IClock clock,
    ILogger<RequestSender> logger)
{
    /// <summary>
    /// Sends the dispatches of a batch that were <paramref name="stored"/>: one that was no longer pending when the batch
    /// was stored (a cancel or a timeout came first) is not sent.
    /// </summary>
    public async Task SendStoredAsync(IReadOnlyList<(RelayRequest Request, RequestBody Body)> outgoing,
        IReadOnlySet<RelayRequestId> stored, CancellationToken cancellationToken)
    {
        foreach (var (relayRequest, body) in outgoing)
        {
            if (!stored.Contains(relayRequest.Id))
            {
                LogNoLongerPending(logger, relayRequest.Id.Value);
                continue;
            }

            await SendAsync(relayRequest, body, cancellationToken);
        }
    }

    public async Task SendAsync(RelayRequest relayRequest, RequestBody body, CancellationToken cancellationToken)
    {
        // The dispatch is a span of the message's trace, and the model host's job its child.
        using var activity = MessageTracing.StartUnder("relay dispatch", ActivityKind.Producer,
            relayRequest.TraceParent, relayRequest.Id.Value);
        using var scope = logger.BeginRequestScope(relayRequest.Id.Value, relayRequest.TraceParent);
        var traced = body with { TraceParent = MessageTracing.Next(activity, relayRequest.TraceParent) };

        // Before it is sent, so the worker's first envelope finds it here without a read.
        streams.RememberStored(relayRequest);
        metrics.Dispatched(traced.Model, clock.UtcNow - relayRequest.CreatedAt);
        try
        {
            await toHosts.SendAsync(relayRequest, EnvelopeType.Request, relayRequest.Attempts, RelayJson.ToBody(traced),
                cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Discord failing or not answering in time (the HTTP client's own timeout is a cancellation too).
            await unsent.Value.EndAsync(relayRequest, ex, cancellationToken);
            return;
        }

        LogSent(logger, relayRequest.Id.Value, relayRequest.WorkerId, relayRequest.Attempts);
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, relayRequest.ChatId.Value,
            relayRequest.Id.Value, Status: AnswerStatuses.Dispatched), cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} changed (cancelled or timed out) while it was being dispatched; not sent")]
    private static partial void LogNoLongerPending(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} sent to model host {WorkerId} (attempt {Attempt})")]
    private static partial void LogSent(ILogger logger, Guid requestId, Guid? workerId, int attempt);
}

/// <summary>A dispatched request its envelope could not be sent for: back in the queue, or its notice at once.</summary>
public sealed partial class UnsentRequests(
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    RelayWay way,
    ILogger<UnsentRequests> logger)
{
    /// <summary>
    /// Not known to be sent, so back in the queue (its host not blamed) to be sent once the way is back — even when
    /// another call saw the way back in the meantime. A send refused for good (no channel to be had for this chat now)
    /// gets its notice at once, rather than at its ack timeout, where a host that is heard from would be sent it again.
    /// </summary>
    public async Task EndAsync(RelayRequest relayRequest, Exception failure, CancellationToken cancellationToken)
    {
        LogSendFailed(logger, relayRequest.Id.Value, failure.GetType().Name, failure.Message);
        using (await gate.EnterAsync(relayRequest.Id.Value, cancellationToken))
        {
            if (failure is RelayTransportUnavailableException || way.IsOut)
            {
                await outcomes.RequeueAsync(relayRequest, RelayRequestStatus.Dispatched, "it could not be sent",
                    cancellationToken, hostGaveUp: false);
            }
            else
            {
                await outcomes.FallBackAsync(relayRequest, RelayTimeoutReason.NoAck, cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId} could not be sent ({ErrorType}: {Error}); it goes back to the queue, or ends with a notice")]
    private static partial void LogSendFailed(ILogger logger, Guid requestId, string errorType, string error);
}
