using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>A <c>relay_requests</c> row as Dapper reads it; <c>Seq</c> is its insertion order.</summary>
internal sealed class RelayRequestRow
{
    public Guid Id { get; init; }

    public Guid ChatId { get; init; }

    public Guid UserId { get; init; }

    public Guid UserMessageId { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? MaxTokens { get; init; }

    public string Status { get; init; } = "";

    public int Attempts { get; init; }

    public int LastSeq { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? DispatchedAt { get; init; }

    public DateTimeOffset? AckedAt { get; init; }

    public DateTimeOffset? AckDeadline { get; init; }

    public DateTimeOffset? CompletionDeadline { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public Guid? AnswerMessageId { get; init; }

    public string? TimeoutReason { get; init; }

    public string? Error { get; init; }

    public string? Generation { get; init; }

    public Guid? WorkerId { get; init; }

    public string? RoutedModel { get; init; }

    public string? TraceParent { get; init; }

    public string? AnswerStart { get; init; }

    public DateTimeOffset? FirstPieceAt { get; init; }

    public Guid? AckedByRun { get; init; }

    public Guid? SentToRun { get; init; }

    public long Seq { get; init; }

    public RelayRequest ToRequest() => RelayRequest.Restore(
        new RelayRequestId(Id),
        new ChatId(ChatId),
        new UserId(UserId),
        new MessageId(UserMessageId),
        SamplingParameters.Create(Temperature, TopP, MaxTokens),
        SqlValues.ToEnum<RelayRequestStatus>(Status),
        Attempts,
        LastSeq,
        CreatedAt,
        DispatchedAt,
        AckedAt,
        AckDeadline,
        CompletionDeadline,
        FinishedAt,
        AnswerMessageId is { } answerId ? new MessageId(answerId) : null,
        SqlValues.ToOptionalEnum<RelayTimeoutReason>(TimeoutReason),
        Error,
        GenerationOptionsJson.Read(Generation),
        WorkerId,
        RoutedModel,
        TraceParent,
        AnswerStart,
        FirstPieceAt,
        AckedByRun,
        SentToRun);
}

/// <summary>
/// A request as statement parameters, named after its columns. <c>Expected</c> is used by the conditional update only;
/// the other statements leave it unbound.
/// </summary>
internal sealed class RelayRequestValues(RelayRequest request, RelayRequestStatus? expected = null)
{
    /// <summary>Every column a new request is stored with, in the order of <see cref="InsertValues"/>.</summary>
    public const string InsertColumns = """
        id, session_id, user_id, user_message_id, temperature, top_p, max_tokens, status, attempts, last_seq, created_at,
        dispatched_at, acked_at, ack_deadline, completion_deadline, finished_at, answer_message_id, timeout_reason, error,
        generation, worker_id, routed_model, trace_parent
        """;

    /// <summary>This object's values for <see cref="InsertColumns"/>.</summary>
    public const string InsertValues = """
        @Id, @ChatId, @UserId, @UserMessageId, @Temperature, @TopP, @MaxTokens, @Status, @Attempts, @LastSeq, @CreatedAt,
        @DispatchedAt, @AckedAt, @AckDeadline, @CompletionDeadline, @FinishedAt, @AnswerMessageId, @TimeoutReason, @Error,
        @Generation, @WorkerId, @RoutedModel, @TraceParent
        """;

    /// <summary>
    /// Stores a request on its own (<c>IRelayRequestRepository.AddAsync</c>, on either database): the columns of
    /// <see cref="InsertColumns"/> and the run of the host it was sent to, for a request stored already dispatched.
    /// </summary>
    public const string Add =
        $"INSERT INTO relay_requests ({InsertColumns}, sent_to_run) VALUES ({InsertValues}, @SentToRun)";

    /// <summary>
    /// Writes a request's state; the caller adds the WHERE clause. A dispatcher's claim ends with any change of state:
    /// a request sent on no longer needs it, and one put back in the queue (its host went quiet or stopped) must be
    /// claimable at once, not when the lease of the dispatch that sent it runs out (<c>Relay:DispatchLease</c>).
    /// </summary>
    public const string UpdateState = """
        UPDATE relay_requests
        SET status = @Status, attempts = @Attempts, last_seq = @LastSeq, dispatched_at = @DispatchedAt,
            acked_at = @AckedAt, ack_deadline = @AckDeadline, completion_deadline = @CompletionDeadline,
            finished_at = @FinishedAt, answer_message_id = @AnswerMessageId, timeout_reason = @TimeoutReason,
            error = @Error, worker_id = @WorkerId, routed_model = @RoutedModel, answer_start = @AnswerStart,
            first_piece_at = @FirstPieceAt, acked_by_run = @AckedByRun, sent_to_run = @SentToRun,
            claimed_until = NULL
        """;

    /// <summary>
    /// The condition a conditional update adds to the status: the stored request is of no later attempt than the copy
    /// written. The status alone is not enough: a request read as dispatched or streaming may since have been put back
    /// in the queue, sent again and acknowledged through another process — the same status, a later attempt — and the
    /// copy of the earlier attempt would write its deadlines and attempt over the later one's, whose answer would then
    /// be ignored as an earlier attempt's and the request end in a timeout notice (a soak with two server bots, at a
    /// client bot's restart). A copy is never rightly behind the stored attempt (attempts only grow, one dispatch at a
    /// time), and is one ahead when it is the dispatch being stored.
    /// </summary>
    public const string NoLaterAttempt = "attempts <= @Attempts";

    public Guid Id { get; } = request.Id.Value;

    public Guid ChatId { get; } = request.ChatId.Value;

    public Guid UserId { get; } = request.UserId.Value;

    public Guid UserMessageId { get; } = request.UserMessageId.Value;

    public double? Temperature { get; } = request.Sampling.Temperature;

    public double? TopP { get; } = request.Sampling.TopP;

    public int? MaxTokens { get; } = request.Sampling.MaxTokens;

    public string Status { get; } = SqlValues.Lower(request.Status);

    public int Attempts { get; } = request.Attempts;

    public int LastSeq { get; } = request.LastSeq;

    public DateTimeOffset CreatedAt { get; } = request.CreatedAt;

    public DateTimeOffset? DispatchedAt { get; } = request.DispatchedAt;

    public DateTimeOffset? AckedAt { get; } = request.AckedAt;

    public DateTimeOffset? AckDeadline { get; } = request.AckDeadline;

    public DateTimeOffset? CompletionDeadline { get; } = request.CompletionDeadline;

    public DateTimeOffset? FinishedAt { get; } = request.FinishedAt;

    public Guid? AnswerMessageId { get; } = request.AnswerMessageId?.Value;

    public string? TimeoutReason { get; } = SqlValues.Lower(request.TimeoutReason);

    public string? Error { get; } = request.Error;

    // Written out only when a statement binds it: the state updates (most writes of a request) leave it as it is.
    public string? Generation => GenerationOptionsJson.Write(request.Options);

    public Guid? WorkerId { get; } = request.WorkerId;

    public string? RoutedModel { get; } = request.RoutedModel;

    public string? TraceParent { get; } = request.TraceParent;

    public string? AnswerStart { get; } = request.AnswerStart;

    public DateTimeOffset? FirstPieceAt { get; } = request.FirstPieceAt;

    public Guid? AckedByRun { get; } = request.AckedByRun;

    public Guid? SentToRun { get; } = request.SentToRun;

    public string? Expected { get; } = SqlValues.Lower(expected);
}
