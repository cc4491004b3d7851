using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Abstractions;

public interface IRelayRequestRepository
{
    Task AddAsync(RelayRequest request, CancellationToken cancellationToken);

    Task<RelayRequest?> GetAsync(RelayRequestId id, CancellationToken cancellationToken);

    Task UpdateAsync(RelayRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the request's new state only if its stored status is still <paramref name="expected"/> (the status it was
    /// read with) and it is of no later attempt than this copy. Returns false, writing nothing, when something else
    /// changed it first — a cancel, a timeout, or another attempt that came back to the same status, in this process or
    /// another — so a stale copy never overwrites a newer decision.
    /// </summary>
    Task<bool> TryUpdateAsync(RelayRequest request, RelayRequestStatus expected, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="TryUpdateAsync"/> with the request's answer: both are stored, or neither (false, when something else
    /// changed the request first — an answer to a request decided otherwise is not kept). One statement where the
    /// database allows it.
    /// </summary>
    Task<bool> TryUpdateWithAnswerAsync(
        RelayRequest request, RelayRequestStatus expected, Message answer, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="TryUpdateAsync"/> for many requests at once (one statement where the database allows): each is
    /// stored only if its stored status is still <paramref name="expected"/>. Returns the ids of those stored; the
    /// others were changed by something else first and are left as they are.
    /// </summary>
    Task<IReadOnlySet<RelayRequestId>> TryUpdateManyAsync(
        IReadOnlyCollection<RelayRequest> requests, RelayRequestStatus expected, CancellationToken cancellationToken);

    /// <summary>
    /// Queues a user's message in one step — the message, its pending <paramref name="request"/> and the chat's new
    /// <see cref="Chat.UpdatedAt"/> — only if the stored chat is still active, still at
    /// <paramref name="chatVersion"/> (from <see cref="ChatAnswerState.Version"/> or from this method's last
    /// success for the chat) and none of its requests is unanswered. Returns the chat's version after the write, or
    /// null, writing nothing, when any of that no longer holds: the caller reads the chat and decides again. Two
    /// sends racing in one chat therefore queue one request, never two. One statement where the database allows.
    /// </summary>
    Task<string?> TryQueueAsync(Chat chat, string chatVersion, Message message, RelayRequest request,
        CancellationToken cancellationToken);

    /// <summary>Pending requests, oldest first.</summary>
    Task<IReadOnlyList<RelayRequest>> ListPendingAsync(int max, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="max"/> pending requests for the calling dispatcher, in turns over their users
    /// (every user's oldest, then every user's second oldest, …; oldest first within a turn): each is leased to
    /// it until <paramref name="leaseUntil"/>, and no other dispatcher (in this process or another) gets it meanwhile.
    /// The claim names <paramref name="claimer"/>, the dispatcher's run, so the others can give it back at once when
    /// that run is known to be dead (<see cref="ReleaseClaimsOfAsync"/>).
    /// A request whose lease ran out before it left Pending (its dispatcher died) can be claimed again.
    /// Each comes with what its prompt is built from (<see cref="ClaimedRequest"/>): its chat and the chat's newest
    /// <paramref name="historyMessages"/> turns, read with the claim — one statement where the database allows, so a
    /// dispatcher waits for one round trip before it builds the batch's prompts, not three.
    /// </summary>
    Task<IReadOnlyList<ClaimedRequest>> ClaimPendingAsync(
        int max, int historyMessages, DateTimeOffset now, DateTimeOffset leaseUntil, string claimer,
        CancellationToken cancellationToken);

    /// <summary>
    /// Gives claimed requests that are still pending back to the queue at once (the dispatcher found no free slot for
    /// them), instead of when their lease runs out.
    /// </summary>
    Task ReleaseClaimsAsync(IReadOnlyCollection<RelayRequestId> ids, CancellationToken cancellationToken);

    /// <summary>
    /// The claims on pending requests still held at <paramref name="now"/>, one entry per claimer with its earliest
    /// lease (a claimer of null: a claim made before claims named their run). A dispatcher that died holding them leaves
    /// them to the others when that lease runs out, and nothing else wakes them for it — unless it is known to be dead
    /// sooner (<see cref="ReleaseClaimsOfAsync"/>).
    /// </summary>
    Task<IReadOnlyList<HeldClaims>> ListClaimsHeldAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Gives every claim <paramref name="claimer"/> holds on a still pending request back to the queue at once: that
    /// dispatcher's run is known to be dead, and its leases need not be waited out. Returns how many were given back.
    /// </summary>
    Task<int> ReleaseClaimsOfAsync(string claimer, CancellationToken cancellationToken);

    /// <summary>
    /// How many requests each model host (by worker id) has in flight (dispatched or streaming), for each model they
    /// were sent for (<see cref="Domain.Relay.RelayRequest.RoutedModel"/>; null: the host's default).
    /// </summary>
    Task<IReadOnlyList<InFlightCount>> CountInFlightByHostAsync(CancellationToken cancellationToken);

    /// <summary>Requests waiting on a worker (dispatched or streaming), oldest first.</summary>
    Task<IReadOnlyList<RelayRequest>> ListInFlightAsync(CancellationToken cancellationToken);

    /// <summary>The newest request of the session that has not finished yet, if any.</summary>
    Task<RelayRequest?> GetUnfinishedForSessionAsync(ChatId chatId, CancellationToken cancellationToken);

    /// <summary>
    /// The generation options (tools, stop, response format, …) the latest request that asked the user message
    /// <paramref name="userMessageId"/> was given; <see cref="GenerationOptions.None"/> when none asked it. Asking the same
    /// question again asks it as it was asked.
    /// </summary>
    Task<GenerationOptions> GetOptionsAskedWithAsync(MessageId userMessageId, CancellationToken cancellationToken);
}

/// <summary>A request claimed for dispatch (<see cref="IRelayRequestRepository.ClaimPendingAsync"/>).</summary>
/// <param name="Chat">The request's chat as stored; null only when the chat no longer exists.</param>
/// <param name="History">
/// The chat's newest turns that the model sees, oldest first: what <see cref="IChatReadModel.GetRecentTurnsAsync"/>
/// reads for it. Empty when the chat has none or is gone.
/// </param>
public sealed record ClaimedRequest(RelayRequest Request, Chat? Chat, IReadOnlyList<ChatTurn> History);

/// <summary>The claims one dispatcher run holds (<see cref="IRelayRequestRepository.ListClaimsHeldAsync"/>).</summary>
/// <param name="Claimer">The run ("machine:process id:run"); null for claims made before claims named it.</param>
/// <param name="RunsOutAt">When the earliest of its leases runs out.</param>
public sealed record HeldClaims(string? Claimer, DateTimeOffset RunsOutAt);

/// <summary>Requests in flight on one model host for one model (null: sent for the host's own default).</summary>
public sealed record InFlightCount(Guid WorkerId, string? RoutedModel, int Requests);
