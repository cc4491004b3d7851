using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
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
    IChatSessionRepository sessions,
    IWorkerPresence presence,
    PromptBuilder prompts,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    IEnvelopeCipher cipher,
    IServerRelayTransport transport,
    IChatEvents events,
    IClock clock,
    IOptions<RelayOptions> options,
    ILogger<DispatchPendingRequestsHandler> logger) : IRequestHandler<DispatchPendingRequests, int>
{
    public async Task<int> Handle(DispatchPendingRequests request, CancellationToken cancellationToken)
    {
        // Claimed with a lease, so dispatchers in other processes skip these; if this one dies before dispatching
        // them, they become claimable again when the lease runs out.
        var now = clock.UtcNow;
        var pending = await requests.ClaimPendingAsync(
            request.Max, now, now + options.Value.DispatchLease, cancellationToken);
        if (pending.Count == 0)
        {
            return 0;
        }

        var workers = await presence.ListAliveAsync(cancellationToken);
        var canServe = workers.Any(w => w.Accepts);
        foreach (var candidate in pending)
        {
            using (await gate.EnterAsync(candidate.Id.Value, cancellationToken))
            {
                var relayRequest = await requests.GetAsync(candidate.Id, cancellationToken);
                if (relayRequest is not { Status: RelayRequestStatus.Pending })
                {
                    continue;
                }

                if (!canServe)
                {
                    LogNoWorker(logger, relayRequest.Id.Value);
                    await outcomes.FallBackAsync(relayRequest, RelayTimeoutReason.NoWorker, cancellationToken);
                    continue;
                }

                await DispatchAsync(relayRequest, cancellationToken);
            }
        }

        return pending.Count;
    }

    private async Task DispatchAsync(RelayRequest relayRequest, CancellationToken cancellationToken)
    {
        var session = await sessions.GetAsync(relayRequest.SessionId, cancellationToken);
        if (session is null)
        {
            relayRequest.Cancel(clock.UtcNow);
            await requests.UpdateAsync(relayRequest, cancellationToken);
            return;
        }

        var prompt = await prompts.BuildAsync(relayRequest, session, cancellationToken);
        var body = new RequestBody(prompt.Model, prompt.SystemPrompt,
            prompt.Turns.Select(t => new TurnBody(t.Role.ToString().ToLowerInvariant(), t.Content)).ToList(),
            prompt.Temperature, prompt.TopP, prompt.MaxTokens);
        var now = clock.UtcNow;
        var envelope = new RelayEnvelope(EnvelopeType.Request, session.Id.Value, relayRequest.Id.Value,
            relayRequest.Attempts, now, RelayJson.ToBody(body));
        var relay = options.Value;

        // Stored before it is sent, so the worker's ack always finds the request dispatched.
        relayRequest.Dispatch(now, relay.AckTimeout, relay.CompletionTimeout);
        await requests.UpdateAsync(relayRequest, cancellationToken);
        await transport.SendAsync(
            new RelayPacket(session.Id.Value, cipher.Seal(envelope, RelayDirection.ServerToClient)), cancellationToken);
        await events.PublishAsync(new ChatEvent(ChatEventTypes.Status, session.Id.Value, relayRequest.Id.Value,
            Status: "dispatched"), cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No model worker is online; the fallback answers request {RequestId}")]
    private static partial void LogNoWorker(ILogger logger, Guid requestId);
}
