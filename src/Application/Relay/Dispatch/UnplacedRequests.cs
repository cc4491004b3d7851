using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Dispatch;

/// <summary>
/// Claimed requests no host will take, ended at once under their gates (if still pending): with no live host the
/// fallback answers; a model no live host serves gets a notice naming the models that are.
/// </summary>
public sealed partial class UnplacedRequests(
    IRelayRequestRepository requests,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    ModelHosts hosts,
    ILogger<UnplacedRequests> logger)
{
    /// <summary>No model host is online: the fallback answers.</summary>
    public Task NoHostAsync(RelayRequestId id, CancellationToken cancellationToken) =>
        EndAsync(id, r =>
        {
            if (hosts.SinceAHostWasKnown is { } silence)
            {
                // A host was heard before: a warning with how long it has been silent (a silence taken for an absence
                // costs an answer, and the operator, or a failed test, needs to see the silence to judge it).
                LogHostSilent(logger, r.Id.Value, silence.TotalSeconds);
            }
            else
            {
                LogNoWorker(logger, r.Id.Value);
            }

            return outcomes.FallBackAsync(r, RelayTimeoutReason.NoWorker, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// No live host serves <paramref name="model"/> (null: the hosts' default), or none where it takes what the request
    /// needs (<paramref name="needs"/>: tools, images): a notice naming those <paramref name="online"/>.
    /// </summary>
    public Task UnservedAsync(RelayRequestId id, string? model, string? needs, IReadOnlyList<string> online,
        CancellationToken cancellationToken)
    {
        var notice = needs is not null
            ? $"No model host online now takes {needs} with the model '{model ?? "default"}'."
            : online.Count == 0
            ? $"The model '{model}' is not served by any model host online now."
            : $"The model '{model}' is not served by any model host online now; online: {string.Join(", ", online)}.";
        LogModelNotServed(logger, id.Value);
        return EndAsync(id, r => outcomes.RefuseAsync(r, "model_not_served", notice, cancellationToken), cancellationToken);
    }

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

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No model worker is online; the fallback answers request {RequestId}")]
    private static partial void LogNoWorker(ILogger logger, Guid requestId);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "No model host is online; the fallback answers request {RequestId} (the last host that took work was " +
                  "heard {SecondsAgo:F1} s ago)")]
    private static partial void LogHostSilent(ILogger logger, Guid requestId, double secondsAgo);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "No model host serves the model request {RequestId} asks for; it is told which are online")]
    private static partial void LogModelNotServed(ILogger logger, Guid requestId);
}
