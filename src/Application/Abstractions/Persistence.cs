using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Sessions;
using MeatLizard.Domain.Users;

namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Runs work in one database transaction. Repositories used inside <paramref name="work"/> share it, so either
/// everything is stored or nothing is.
/// </summary>
public interface IUnitOfWork
{
    Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken);
}

public interface IUserRepository
{
    Task AddAsync(User user, CancellationToken cancellationToken);

    Task<User?> GetAsync(UserId id, CancellationToken cancellationToken);

    /// <summary>Usernames are unique without regard to case.</summary>
    Task<User?> GetByUsernameAsync(string username, CancellationToken cancellationToken);

    Task UpdateAsync(User user, CancellationToken cancellationToken);

    /// <summary>
    /// Ends one sign-in session of the user (<see cref="User.EndedSessions"/>): its credentials are refused from now
    /// on. <paramref name="until"/> is when they would have expired anyway, after which the record may go. One targeted
    /// insert, so two sessions ended at once are both ended.
    /// </summary>
    Task EndSessionAsync(UserId id, string sessionId, DateTimeOffset until, DateTimeOffset now,
        CancellationToken cancellationToken);
}

public interface IApiKeyRepository
{
    Task AddAsync(ApiKey key, CancellationToken cancellationToken);

    Task<ApiKey?> GetAsync(ApiKeyId id, CancellationToken cancellationToken);

    /// <summary>Finds a key by its public prefix (unique); the caller verifies the secret hash.</summary>
    Task<ApiKey?> GetByPrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a revocation. Revoking is one-way in storage too: a copy read before another caller revoked the key
    /// does not bring it back. The last use is written only by <see cref="MarkUsedAsync"/>.
    /// </summary>
    Task UpdateAsync(ApiKey key, CancellationToken cancellationToken);

    /// <summary>
    /// Records a use of an active key, moving its last use forward only: one targeted update that touches nothing
    /// else, so a key revoked meanwhile stays revoked.
    /// </summary>
    Task MarkUsedAsync(ApiKeyId id, DateTimeOffset usedAt, CancellationToken cancellationToken);
}

public interface IChatSessionRepository
{
    Task AddAsync(ChatSession session, CancellationToken cancellationToken);

    Task<ChatSession?> GetAsync(SessionId id, CancellationToken cancellationToken);

    Task UpdateAsync(ChatSession session, CancellationToken cancellationToken);

    /// <summary>
    /// The session and whether one of its requests is still unanswered (pending or in flight), in one read: what
    /// asking in it must know. Null when there is no such session.
    /// </summary>
    Task<SessionAnswerState?> GetWithAnswerStateAsync(SessionId id, CancellationToken cancellationToken);
}

/// <param name="IsAnswering">A request of the session is pending or in flight.</param>
/// <param name="Version">
/// The stored chat's version as read, opaque: what <see cref="IRelayRequestRepository.TryQueueAsync"/> checks that
/// the chat is still as it was when the caller decided.
/// </param>
public sealed record SessionAnswerState(ChatSession Session, bool IsAnswering, string Version);

public interface IMessageRepository
{
    Task AddAsync(Message message, CancellationToken cancellationToken);

    Task<Message?> GetAsync(MessageId id, CancellationToken cancellationToken);
}

public interface IRelayRequestRepository
{
    Task AddAsync(RelayRequest request, CancellationToken cancellationToken);

    Task<RelayRequest?> GetAsync(RelayRequestId id, CancellationToken cancellationToken);

    Task UpdateAsync(RelayRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Stores the request's new state only if its stored status is still <paramref name="expected"/> (the status it was
    /// read with). Returns false, writing nothing, when something else changed it first — a cancel or a timeout, in
    /// this process or another — so a stale copy never overwrites a newer decision.
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
    /// <see cref="ChatSession.UpdatedAt"/> — only if the stored chat is still active, still at
    /// <paramref name="chatVersion"/> (from <see cref="SessionAnswerState.Version"/> or from this method's last
    /// success for the chat) and none of its requests is unanswered. Returns the chat's version after the write, or
    /// null, writing nothing, when any of that no longer holds: the caller reads the chat and decides again. Two
    /// sends racing in one chat therefore queue one request, never two. One statement where the database allows.
    /// </summary>
    Task<string?> TryQueueAsync(ChatSession chat, string chatVersion, Message message, RelayRequest request,
        CancellationToken cancellationToken);

    /// <summary>Pending requests, oldest first.</summary>
    Task<IReadOnlyList<RelayRequest>> ListPendingAsync(int max, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="max"/> pending requests, oldest first, for the calling dispatcher: each is leased to
    /// it until <paramref name="leaseUntil"/>, and no other dispatcher (in this process or another) gets it meanwhile.
    /// A request whose lease ran out before it left Pending (its dispatcher died) can be claimed again.
    /// Each comes with what its prompt is built from (<see cref="ClaimedRequest"/>): its chat and the chat's newest
    /// <paramref name="historyMessages"/> turns, read with the claim — one statement where the database allows, so a
    /// dispatcher waits for one round trip before it builds the batch's prompts, not three.
    /// </summary>
    Task<IReadOnlyList<ClaimedRequest>> ClaimPendingAsync(
        int max, int historyMessages, DateTimeOffset now, DateTimeOffset leaseUntil,
        CancellationToken cancellationToken);

    /// <summary>Requests waiting on a worker (dispatched or streaming), oldest first.</summary>
    Task<IReadOnlyList<RelayRequest>> ListInFlightAsync(CancellationToken cancellationToken);

    /// <summary>The newest request of the session that has not finished yet, if any.</summary>
    Task<RelayRequest?> GetUnfinishedForSessionAsync(SessionId sessionId, CancellationToken cancellationToken);
}

/// <summary>A request claimed for dispatch (<see cref="IRelayRequestRepository.ClaimPendingAsync"/>).</summary>
/// <param name="Session">The request's chat as stored; null only when the chat no longer exists.</param>
/// <param name="History">
/// The chat's newest turns that the model sees, oldest first: what <see cref="IChatReadModel.GetRecentTurnsAsync"/>
/// reads for it. Empty when the chat has none or is gone.
/// </param>
public sealed record ClaimedRequest(RelayRequest Request, ChatSession? Session, IReadOnlyList<ChatTurn> History);

/// <summary>
/// One row per answered request, for the admins' figures. <see cref="InferenceMs"/> is the worker's wall time;
/// <see cref="PromptMs"/> and <see cref="GenerationMs"/> are the engine's own timings, when it reported them.
/// </summary>
public sealed record RequestMetric(
    Guid RequestId, Guid SessionId, DateTimeOffset RecordedAt, int QueueMs, int RelayMs, int? InferenceMs,
    int PromptTokens, int CompletionTokens, bool Fallback, string Outcome, double? PromptMs = null,
    double? GenerationMs = null);

public interface IMetricsRecorder
{
    Task RecordAsync(RequestMetric metric, CancellationToken cancellationToken);
}
