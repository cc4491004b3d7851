using System.Diagnostics;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>
/// Sends pending requests to the model hosts, each to one host that serves its chat's model and has a free slot (the
/// least loaded among several); the rest stay queued here, where order and fairness are decided — the claim takes them
/// in turns over users. A host still loading its model gets requests too: they wait there and are answered once the
/// model is ready, or the fallback answers when the relay's timeouts run out. With no live host that accepts requests
/// the fallback answers at once; a model that no live host serves is answered at once with a notice naming the models
/// that are. Returns how many requests it handled.
/// </summary>
public sealed record DispatchPendingRequests(int Max = 64) : IRequest<int>;

public sealed partial class DispatchPendingRequestsHandler(
    IRelayRequestRepository requests,
    ModelHosts hosts,
    PromptBuilder prompts,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    RelayStreamState streams,
    ChatModels models,
    IEnvelopeCipher cipher,
    IServerRelayTransport transport,
    IChatEvents events,
    IClock clock,
    IOptions<RelayOptions> options,
    PlatformMetrics metrics,
    RelayTransportHealth way,
    IRelayReachability reachability,
    ILogger<DispatchPendingRequestsHandler> logger) : IRequestHandler<DispatchPendingRequests, int>
{
    public async Task<int> Handle(DispatchPendingRequests request, CancellationToken cancellationToken)
    {
        // Claimed with a lease, so dispatchers in other processes skip these; if this one dies before dispatching
        // them, they become claimable again when the lease runs out. Those whose hosts are all busy go back to the
        // queue, keeping their places.
        var now = clock.UtcNow;
        var relay = options.Value;
        var pending = await requests.ClaimPendingAsync(
            request.Max, relay.MaxHistoryMessages, now, now + relay.DispatchLease, cancellationToken);
        if (pending.Count == 0)
        {
            return 0;
        }

        if (way.IsOut(relay.MaxOutageHold))
        {
            // Nothing can reach a host now: the questions wait in their places until the way is back.
            await HoldAsync(pending, cancellationToken);
            return 0;
        }

        // Placing holds the hosts' counts until the batch is stored, so dispatches running side by side never give a
        // host more than its slots.
        await using var placement = await hosts.PlaceAsync(requests, cancellationToken);

        if (placement.Hosts.Count > 0)
        {
            // Those that went back to the queue do not count: a batch of only those must not look like a full one.
            return pending.Count - await DispatchAsync(hosts.InTurns(pending), placement, cancellationToken);
        }

        if (way.HidesHosts(relay.WorkerTimeout * 2, relay.MaxOutageHold, reachability.HostsCatchUp)
            || hosts.KnewAHostWithin(relay.WorkerTimeout)
            || !await reachability.IsReachableAsync(cancellationToken))
        {
            // No host heard from because the way to them was out and is only just back, or the one known a moment ago
            // is late with its heartbeat: the questions wait for the hosts' next heartbeats, which wake the dispatcher.
            hosts.AwaitHosts();
            await placement.DisposeAsync();
            await HoldAsync(pending, cancellationToken);
            return 0;
        }

        foreach (var candidate in pending)
        {
            await EndAsync(candidate.Request.Id, r =>
            {
                LogNoWorker(logger, r.Id.Value);
                return outcomes.FallBackAsync(r, RelayTimeoutReason.NoWorker, cancellationToken);
            }, cancellationToken);
        }

        return pending.Count;
    }

    /// <summary>
    /// Prompts are built from the chats and histories read with the claim, outside any transaction, and each request is
    /// given its host; then the whole batch is stored in one statement, each request only if it is still pending — a
    /// cancel in this process or another may have come first, and it must not be undone — and only those stored are
    /// sent. A request whose session is gone is cancelled in the same statement; one whose hosts are all busy goes back
    /// to the queue.
    /// </summary>
    /// <returns>How many went back to the queue.</returns>
    private async Task<int> DispatchAsync(List<ClaimedRequest> claimed, ModelHosts.Placement placement,
        CancellationToken cancellationToken)
    {
        var outgoing = new List<(RelayRequest Request, RequestBody Body)>(claimed.Count);
        var toStore = new List<RelayRequest>(claimed.Count);
        List<RelayRequestId>? waiting = null;
        List<(RelayRequest Request, string? Model)>? told = null;
        List<(RelayRequestId Id, string Model)>? unserved = null;
        var defaultModel = await models.DefaultAsync(cancellationToken);
        var now = clock.UtcNow;
        var relay = options.Value;
        foreach (var (relayRequest, session, history) in claimed)
        {
            if (session is null)
            {
                relayRequest.Cancel(clock.UtcNow);
                toStore.Add(relayRequest);
                continue;
            }

            var prompt = await prompts.BuildAsync(relayRequest, session, history, cancellationToken);
            var model = placement.RouteBy(prompt.Model, defaultModel);
            if (!placement.AnyServes(model))
            {
                (unserved ??= []).Add((relayRequest.Id, model!));
                continue;
            }

            if (placement.Take(model) is not { } host)
            {
                (waiting ??= []).Add(relayRequest.Id);
                (told ??= []).Add((relayRequest, model));
                continue;
            }

            relayRequest.Dispatch(now, relay.AckTimeout, relay.CompletionTimeout, host.WorkerId, model);
            hosts.Served(relayRequest.UserId);
            toStore.Add(relayRequest);
            // The model routed by: null (the host's own default) for a default that no host lists by name, which a
            // host serving several models would otherwise refuse as one it does not serve.
            outgoing.Add((relayRequest, new RequestBody(model, prompt.SystemPrompt,
                prompt.Turns.Select(t => new TurnBody(RoleName(t.Role), t.Content)).ToList(),
                prompt.Temperature, prompt.TopP, prompt.MaxTokens, prompt.Extras, host.WorkerId)));
        }

        hosts.QueueWaiting = waiting is not null;
        if (waiting is not null)
        {
            await requests.ReleaseClaimsAsync(waiting, cancellationToken);
        }

        // Stored before sent, so the worker's ack always finds the request dispatched. One statement: it needs no
        // transaction of its own to be stored as a whole.
        var stored = await requests.TryUpdateManyAsync(toStore, RelayRequestStatus.Pending, cancellationToken);
        await placement.DisposeAsync();

        foreach (var (relayRequest, body) in outgoing)
        {
            if (!stored.Contains(relayRequest.Id))
            {
                LogNoLongerPending(logger, relayRequest.Id.Value);
                continue;
            }

            // The dispatch is a span of the message's trace, and the model host's job its child.
            using var activity = MessageTracing.StartUnder("relay dispatch", ActivityKind.Producer,
                relayRequest.TraceParent, relayRequest.Id.Value);
            using var scope = logger.BeginRequestScope(relayRequest.Id.Value, relayRequest.TraceParent);
            var traced = body with { TraceParent = MessageTracing.Next(activity, relayRequest.TraceParent) };

            // Before it is sent, so the worker's first envelope finds it here without a read.
            streams.RememberStored(relayRequest);
            metrics.Dispatched(traced.Model, now - relayRequest.CreatedAt);

            var envelope = new RelayEnvelope(EnvelopeType.Request, relayRequest.SessionId.Value, relayRequest.Id.Value,
                relayRequest.Attempts, now, RelayJson.ToBody(traced));
            try
            {
                await transport.SendAsync(new RelayPacket(relayRequest.SessionId.Value,
                    cipher.Seal(envelope, RelayDirection.ServerToClient)), cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Discord failing or not answering in time (the HTTP client's own timeout is a cancellation too): not
                // known to be sent, so back in the queue (its host not blamed) to be sent once the way is back — even
                // when another call saw the way back in the meantime. The rest of the batch is still sent.
                LogSendFailed(logger, relayRequest.Id.Value, ex.GetType().Name, ex.Message);
                using (await gate.EnterAsync(relayRequest.Id.Value, cancellationToken))
                {
                    if (ex is RelayTransportUnavailableException || way.IsOut(relay.MaxOutageHold))
                    {
                        await outcomes.RequeueAsync(relayRequest, RelayRequestStatus.Dispatched, "it could not be sent",
                            cancellationToken, hostGaveUp: false);
                    }
                    else
                    {
                        // Refused for good (no channel to be had for this chat now): the notice at once, rather than
                        // at its ack timeout, where a host that is heard from would be sent it again.
                        await outcomes.FallBackAsync(relayRequest, RelayTimeoutReason.NoAck, cancellationToken);
                    }
                }

                continue;
            }

            LogSent(logger, relayRequest.Id.Value, relayRequest.WorkerId, relayRequest.Attempts);
            await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, relayRequest.SessionId.Value,
                relayRequest.Id.Value, Status: AnswerStatuses.Dispatched), cancellationToken);
        }

        await TellPositionsAsync(told, placement, cancellationToken);

        foreach (var (id, model) in unserved ?? [])
        {
            var online = placement.Models;
            var notice = online.Count == 0
                ? $"The model '{model}' is not served by any model host online now."
                : $"The model '{model}' is not served by any model host online now; online: {string.Join(", ", online)}.";
            LogModelNotServed(logger, id.Value);
            await EndAsync(id, r => outcomes.RefuseAsync(r, "model_not_served", notice, cancellationToken), cancellationToken);
        }

        return waiting?.Count ?? 0;
    }

    /// <summary>
    /// Tells the requests left waiting where they stand: their place in their model's queue (in the order they will be
    /// served) and, once the hosts serving it have answered before, about how long until one starts it.
    /// </summary>
    private async Task TellPositionsAsync(List<(RelayRequest Request, string? Model)>? waiting,
        ModelHosts.Placement placement, CancellationToken cancellationToken)
    {
        if (waiting is null)
        {
            return;
        }

        var told = new List<ChatEvent>(waiting.Count);
        foreach (var byModel in waiting.GroupBy(w => w.Model))
        {
            var servers = placement.Hosts.Where(h => h.Serves(byModel.Key)).ToList();
            var position = 0;
            foreach (var (relayRequest, _) in byModel)
            {
                position++;
                var wait = hosts.EstimateWait(servers, position);
                told.Add(new ChatEvent(ChatEventTypes.Status, relayRequest.SessionId.Value, relayRequest.Id.Value,
                    Status: AnswerStatuses.Queued, QueuePosition: position,
                    EstimatedWaitSeconds: wait is { } w ? (int)Math.Ceiling(w.TotalSeconds) : null));
            }
        }

        foreach (var chatEvent in told)
        {
            await events.PublishAsync(chatEvent, cancellationToken);
        }
    }

    /// <summary>Ends a claimed request that is still pending, under its gate.</summary>
    private async Task EndAsync(RelayRequestId id, Func<RelayRequest, Task> end, CancellationToken cancellationToken)
    {
        using (await gate.EnterAsync(id.Value, cancellationToken))
        {
            var relayRequest = await requests.GetAsync(id, cancellationToken);
            if (relayRequest is not { Status: RelayRequestStatus.Pending })
            {
                return;
            }

            await end(relayRequest);
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

    private async Task HoldAsync(IReadOnlyList<ClaimedRequest> pending, CancellationToken cancellationToken)
    {
        await requests.ReleaseClaimsAsync(pending.Select(c => c.Request.Id).ToList(), cancellationToken);
        LogHeldForOutage(logger, pending.Count);
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "{Count} request(s) wait: the way to the model hosts is out, or only just back")]
    private static partial void LogHeldForOutage(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No model worker is online; the fallback answers request {RequestId}")]
    private static partial void LogNoWorker(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No model host serves the model request {RequestId} asks for; it is told which are online")]
    private static partial void LogModelNotServed(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} sent to model host {WorkerId} (attempt {Attempt})")]
    private static partial void LogSent(ILogger logger, Guid requestId, Guid? workerId, int attempt);
}
