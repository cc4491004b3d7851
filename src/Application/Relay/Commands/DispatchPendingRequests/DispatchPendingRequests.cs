using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// Sends pending requests to the workers. A worker still loading its model gets them too: they wait there and are
/// answered once the model is ready, or the fallback answers when the relay's timeouts run out. With no live worker
/// that accepts requests the fallback answers at once instead of waiting. Returns how many requests it handled.
/// </summary>
public sealed record DispatchPendingRequests(int Max = 64) : IRequest<int>;

public sealed partial class DispatchPendingRequestsHandler(
    IRelayRequestRepository requests,
    WorkerAvailability workers,
    PromptBuilder prompts,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    RelayStreamState streams,
    IEnvelopeCipher cipher,
    IServerRelayTransport transport,
    IChatEvents events,
    IClock clock,
    IOptions<RelayOptions> options,
    PlatformMetrics metrics,
    ILogger<DispatchPendingRequestsHandler> logger) : IRequestHandler<DispatchPendingRequests, int>
{
    public async Task<int> Handle(DispatchPendingRequests request, CancellationToken cancellationToken)
    {
        // Claimed with a lease, so dispatchers in other processes skip these; if this one dies before dispatching
        // them, they become claimable again when the lease runs out.
        var now = clock.UtcNow;
        var relay = options.Value;
        var pending = await requests.ClaimPendingAsync(
            request.Max, relay.MaxHistoryMessages, now, now + relay.DispatchLease, cancellationToken);
        if (pending.Count == 0)
        {
            return 0;
        }

        if (await workers.AnyAcceptsAsync(cancellationToken))
        {
            await DispatchAsync(pending, cancellationToken);
            return pending.Count;
        }

        foreach (var candidate in pending)
        {
            using (await gate.EnterAsync(candidate.Request.Id.Value, cancellationToken))
            {
                var relayRequest = await requests.GetAsync(candidate.Request.Id, cancellationToken);
                if (relayRequest is not { Status: RelayRequestStatus.Pending })
                {
                    continue;
                }

                LogNoWorker(logger, relayRequest.Id.Value);
                await outcomes.FallBackAsync(relayRequest, RelayTimeoutReason.NoWorker, cancellationToken);
            }
        }

        return pending.Count;
    }

    /// <summary>
    /// Prompts are built from the chats and histories read with the claim, outside any transaction; then the whole
    /// batch is stored in one statement, each request only if it is still pending — a cancel in this process or another
    /// may have come first, and it must not be undone — and only those stored are sent. A request whose session is gone
    /// is cancelled in the same statement.
    /// </summary>
    private async Task DispatchAsync(IReadOnlyList<ClaimedRequest> claimed, CancellationToken cancellationToken)
    {
        var outgoing = new List<(RelayRequest Request, RequestBody Body)>(claimed.Count);
        var toStore = new List<RelayRequest>(claimed.Count);
        foreach (var (relayRequest, session, history) in claimed)
        {
            if (session is null)
            {
                relayRequest.Cancel(clock.UtcNow);
                toStore.Add(relayRequest);
                continue;
            }

            var prompt = await prompts.BuildAsync(relayRequest, session, history, cancellationToken);
            outgoing.Add((relayRequest, new RequestBody(prompt.Model, prompt.SystemPrompt,
                prompt.Turns.Select(t => new TurnBody(RoleName(t.Role), t.Content)).ToList(),
                prompt.Temperature, prompt.TopP, prompt.MaxTokens, prompt.Extras)));
        }

        var now = clock.UtcNow;
        var relay = options.Value;
        foreach (var (relayRequest, _) in outgoing)
        {
            relayRequest.Dispatch(now, relay.AckTimeout, relay.CompletionTimeout);
            toStore.Add(relayRequest);
        }

        // Stored before sent, so the worker's ack always finds the request dispatched. One statement: it needs no
        // transaction of its own to be stored as a whole.
        var stored = await requests.TryUpdateManyAsync(toStore, RelayRequestStatus.Pending, cancellationToken);

        foreach (var (relayRequest, body) in outgoing)
        {
            if (!stored.Contains(relayRequest.Id))
            {
                LogNoLongerPending(logger, relayRequest.Id.Value);
                continue;
            }

            // Before it is sent, so the worker's first envelope finds it here without a read.
            streams.RememberStored(relayRequest);
            metrics.Dispatched(body.Model, now - relayRequest.CreatedAt);

            var envelope = new RelayEnvelope(EnvelopeType.Request, relayRequest.SessionId.Value, relayRequest.Id.Value,
                relayRequest.Attempts, now, RelayJson.ToBody(body));
            try
            {
                await transport.SendAsync(new RelayPacket(relayRequest.SessionId.Value,
                    cipher.Seal(envelope, RelayDirection.ServerToClient)), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // E.g. no Discord channel to be had for this chat now. The request stays dispatched, so its ack timeout
                // lets the fallback answer it; the rest of the batch is still sent.
                LogSendFailed(logger, relayRequest.Id.Value, ex.GetType().Name, ex.Message);
                continue;
            }

            await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, relayRequest.SessionId.Value,
                relayRequest.Id.Value, Status: "dispatched"), cancellationToken);
        }
    }

    // A prompt carries the whole history: no new string per turn for the role.
    private static string RoleName(MessageRole role) => role switch
    {
        MessageRole.User => "user",
        MessageRole.Assistant => "assistant",
        MessageRole.System => "system",
        _ => role.ToString().ToLowerInvariant(),
    };

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} changed (cancelled or timed out) while it was being dispatched; not sent")]
    private static partial void LogNoLongerPending(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId} could not be sent ({ErrorType}: {Error}); its ack timeout lets the fallback answer it")]
    private static partial void LogSendFailed(ILogger logger, Guid requestId, string errorType, string error);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No model worker is online; the fallback answers request {RequestId}")]
    private static partial void LogNoWorker(ILogger logger, Guid requestId);
}
