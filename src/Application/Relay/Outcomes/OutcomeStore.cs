using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay.Dispatch;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// Stores a request's new state, with its answer when it has one, on the condition that its stored status is still
/// the one it was read with: when another process ended or changed the request first, nothing is stored.
/// </summary>
public sealed partial class OutcomeStore(
    IRelayRequestRepository requests,
    QueueWakes wakes,
    PlatformMetrics platformMetrics,
    ILogger<OutcomeStore> logger)
{
    /// <summary>How long an answer's store is retried through a database outage before the failure is passed on.</summary>
    internal static readonly TimeSpan OutageRetryLimit = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan MaxOutagePause = TimeSpan.FromSeconds(5);

    /// <summary>False, storing nothing, when the request's stored status is no longer the one it was read with.</summary>
    public async Task<bool> StoreAsync(
        RelayRequest request, RelayRequestStatus read, Message? answer, CancellationToken cancellationToken)
    {
        var stored = answer is null
            ? await requests.TryUpdateAsync(request, read, cancellationToken)
            : await requests.TryUpdateWithAnswerAsync(request, read, answer, cancellationToken);
        if (!stored)
        {
            LogChangedElsewhere(logger, request.Id.Value, read);
        }
        else if (read is RelayRequestStatus.Dispatched or RelayRequestStatus.Streaming)
        {
            // A slot came free on a host: requests waiting for one need not wait for the dispatcher's next poll.
            wakes.SlotFreed();
        }

        return stored;
    }

    /// <summary>
    /// Stores an answer the model produced through a database outage: tried again with growing pauses while the failure
    /// may pass, for up to <see cref="OutageRetryLimit"/>, so a database restart does not turn the answer into a timeout
    /// notice. A failure that will not pass is thrown at once.
    /// </summary>
    public async Task<bool> StoreThroughOutagesAsync(
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

    /// <summary>The request as stored now; null when there is none.</summary>
    public Task<RelayRequest?> ReadAsync(RelayRequestId id, CancellationToken cancellationToken) =>
        requests.GetAsync(id, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId} was no longer {Status} when its outcome was stored (another process ended it first); nothing stored")]
    private static partial void LogChangedElsewhere(ILogger logger, Guid requestId, RelayRequestStatus status);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The database could not be reached to store the answer of request {RequestId}; trying again in {PauseMs} ms")]
    private static partial void LogStoreRetried(ILogger logger, Guid requestId, int pauseMs);
}
