using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Relay.Outcomes;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay;

/// <summary>
/// The ways a request ends on the server side, one class each (<see cref="CompleteOutcome"/>,
/// <see cref="NoticeOutcome"/>, <see cref="FallbackOutcome"/>, <see cref="CancelOutcome"/>) and the way it goes back to
/// the queue (<see cref="RequeueOutcome"/>); and the host still at work on a request that has ended is told to stop
/// (<see cref="HostEnvelopes.StopEndedAsync"/>). Each ending stores its message and the request's new state together (both or
/// neither), then tells the chat's listeners. Callers hold the request's gate; the store is conditional on the status
/// the caller read, so when another process ended the request first nothing is stored or told.
/// </summary>
public sealed class RelayOutcomes(
    CompleteOutcome completion,
    NoticeOutcome notices,
    Lazy<FallbackOutcome> fallback,
    Lazy<CancelOutcome> cancellation,
    Lazy<RequeueOutcome> requeue,
    HostEnvelopes toHosts)
{
    /// <inheritdoc cref="CompleteOutcome.CompleteAsync"/>
    public Task<bool> CompleteAsync(RelayRequest request, FinalBody final, CancellationToken cancellationToken,
        RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null) =>
        completion.CompleteAsync(request, final, cancellationToken, storedStatus, deltas);

    /// <inheritdoc cref="NoticeOutcome.FailAsync"/>
    public Task<bool> FailAsync(RelayRequest request, ErrorBody error, CancellationToken cancellationToken,
        RelayRequestStatus? storedStatus = null, IReadOnlyList<ChatEvent>? deltas = null) =>
        notices.FailAsync(request, error, cancellationToken, storedStatus, deltas);

    /// <inheritdoc cref="NoticeOutcome.RefuseAsync"/>
    public Task<bool> RefuseAsync(RelayRequest request, string code, string notice, CancellationToken cancellationToken) =>
        notices.RefuseAsync(request, code, notice, cancellationToken);

    /// <inheritdoc cref="RequeueOutcome.RequeueAsync"/>
    public Task<bool> RequeueAsync(RelayRequest request, RelayRequestStatus read, string why,
        CancellationToken cancellationToken, bool hostGaveUp = true, IReadOnlyList<ChatEvent>? deltas = null) =>
        requeue.Value.RequeueAsync(request, read, why, cancellationToken, hostGaveUp, deltas);

    /// <inheritdoc cref="FallbackOutcome.FallBackAsync"/>
    public Task FallBackAsync(RelayRequest request, RelayTimeoutReason reason, CancellationToken cancellationToken) =>
        fallback.Value.FallBackAsync(request, reason, cancellationToken);

    /// <inheritdoc cref="CancelOutcome.CancelAsync"/>
    public Task<bool> CancelAsync(RelayRequest request, CancellationToken cancellationToken) =>
        cancellation.Value.CancelAsync(request, cancellationToken);

    /// <inheritdoc cref="HostEnvelopes.StopEndedAsync"/>
    public ValueTask<bool> StopEndedAsync(RelayRequest request, CancellationToken cancellationToken) =>
        toHosts.StopEndedAsync(request, cancellationToken);

    /// <inheritdoc cref="FallbackReplies.ModelOnlyNotice"/>
    public static string ModelOnlyNotice(RelayTimeoutReason reason) => FallbackReplies.ModelOnlyNotice(reason);
}
